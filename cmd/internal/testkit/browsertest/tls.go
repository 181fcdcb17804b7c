package browsertest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// authority is a certificate authority made for one test run: its key lives
// only in memory, and only the browser Start launched trusts it.
type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// leaf is the certificate every ServeTLS server presents: names under
	// Sites, localhost and 127.0.0.1, signed by the authority.
	leaf tls.Certificate
	// spki is the SHA-256 of the authority's public key, base64, as
	// --ignore-certificate-errors-spki-list wants it.
	spki string
}

func newAuthority(t testing.TB) *authority {
	t.Helper()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("browsertest: CA key: %v", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sessionkit browsertest CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("browsertest: CA certificate: %v", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}

	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("browsertest: server key: %v", err)
	}
	names := []string{"localhost"}
	for _, s := range Sites {
		names = append(names, s, "*."+s)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "sessionkit browsertest server"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     names,
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("browsertest: server certificate: %v", err)
	}
	sum := sha256.Sum256(caCert.RawSubjectPublicKeyInfo)
	return &authority{
		cert: caCert,
		key:  caKey,
		leaf: tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey},
		spki: base64.StdEncoding.EncodeToString(sum[:]),
	}
}

// ServeTLS serves h over HTTPS on 127.0.0.1 with a certificate, signed by the
// browser's authority, for localhost, 127.0.0.1 and every name under Sites.
// Reach it with At(srv, "app.example.test"). It closes when the test ends.
func (b *Browser) ServeTLS(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{b.ca.leaf}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// Serve serves h over plain HTTP on 127.0.0.1. It closes when the test ends.
func Serve(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// At returns srv's URL under another host name with the same scheme and
// port: At(srv, "api.example.test") is "https://api.example.test:41234" for
// a ServeTLS server. The browser resolves names under Sites to 127.0.0.1.
func At(srv *httptest.Server, host string) string {
	u, err := url.Parse(srv.URL)
	if err != nil {
		panic("browsertest: bad server URL " + srv.URL)
	}
	u.Host = net.JoinHostPort(host, u.Port())
	return u.String()
}
