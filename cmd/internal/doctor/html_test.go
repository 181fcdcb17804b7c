package doctor

import (
	"testing"
	"time"
)

func TestBuildChart(t *testing.T) {
	// A day ending at midnight, so the last bar carries the long "Jan 2 00h"
	// label at the right edge, and a peak with no whole half.
	start := time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC)
	var hours []HourCount
	for i := 0; i < 24; i++ {
		hours = append(hours, HourCount{Hour: start.Add(time.Duration(i) * time.Hour), Anonymous: int64(i), LoggedIn: 2})
	}
	hours[10].Anonymous = 59 // peak 61
	c := buildChart(hours)
	if c.Empty || len(c.Bars) != 24 {
		t.Fatalf("bars: %d, empty %v", len(c.Bars), c.Empty)
	}
	// Every x label stays inside the picture.
	for _, l := range c.XLabels {
		w := float64(len(l.Text)) * labelCharW
		left, right := l.X-w/2, l.X+w/2
		switch l.Anchor {
		case "start":
			left, right = l.X, l.X+w
		case "end":
			left, right = l.X-w, l.X
		}
		if left < 0 || right > c.W {
			t.Errorf("label %q spans %.0f..%.0f, outside 0..%.0f", l.Text, left, right, c.W)
		}
	}
	if last := c.XLabels[len(c.XLabels)-1]; last.Text != "Mar 2 00h" || last.Anchor != "end" {
		t.Errorf("last label %+v", last)
	}
	// Each y label reads the value at its height.
	scale := c.PlotH / 61
	for _, want := range []struct {
		text string
		v    float64
	}{{"0", 0}, {"30", 30}, {"61", 61}} {
		found := false
		for _, l := range c.YLabels {
			if l.Text == want.text {
				found = true
				if y := c.Bottom - want.v*scale + 4; l.Y != y {
					t.Errorf("y label %s at %.1f, want %.1f", l.Text, l.Y, y)
				}
			}
		}
		if !found {
			t.Errorf("no y label %s in %+v", want.text, c.YLabels)
		}
	}
	// The stacked bar of the peak: logged-in at the bottom, anonymous on top.
	b := c.Bars[10]
	if b.HL != 2*scale || b.HA != 59*scale || b.YL != c.Bottom-b.HL || b.YA != b.YL-b.HA {
		t.Errorf("peak bar %+v", b)
	}
}
