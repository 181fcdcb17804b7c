package redisstore

import (
	"testing"
)

// TestRecordOfValuesStayApart: the values recordOf copies into one buffer
// read as stored, and each is capped at its own end, so that appending to
// one (a caller may) cannot write over the next.
func TestRecordOfValuesStayApart(t *testing.T) {
	fields := map[string]string{
		fieldExpiry: "4102444800000", fieldCreated: "1700000000000",
		valuePrefix + "a": `"one"`, valuePrefix + "b": `2`, valuePrefix + "c": `{"x":[3]}`, valuePrefix + "empty": `""`,
	}
	rec, found, err := recordOf(fields)
	if err != nil || !found || len(rec.Values) != 4 {
		t.Fatalf("recordOf = %v, %v, %v", rec, found, err)
	}
	for k, v := range rec.Values {
		_ = append(v, "XXXXXXXX"...)
		if cap(v) != len(v) {
			t.Errorf("value %q has room to grow into: len %d, cap %d", k, len(v), cap(v))
		}
	}
	for k, v := range rec.Values {
		if want := fields[valuePrefix+k]; string(v) != want {
			t.Errorf("value %q = %s, stored %s", k, v, want)
		}
	}
}
