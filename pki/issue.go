package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"time"
)

// Default lifetimes of what CreateCA and CreateCert make.
const (
	DefaultCADays   = 5 * 365
	DefaultCertDays = 365
)

// clockSkew backdates every certificate a little, so a machine whose clock
// runs slightly behind accepts a certificate made just now.
const clockSkew = 5 * time.Minute

// KeyPair is a certificate and its private key, PEM encoded.
type KeyPair struct {
	CertPEM []byte
	KeyPEM  []byte
}

// CA is a parsed certificate authority that can sign certificates.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// CreateCA makes a self-signed cluster CA valid for days (DefaultCADays
// when zero), with an ECDSA P-256 key.
func CreateCA(days int, now time.Time) (KeyPair, error) {
	if days <= 0 {
		days = DefaultCADays
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return KeyPair{}, fmt.Errorf("generate ca key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return KeyPair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "jobcluster CA " + serial.Text(16)[:8], Organization: []string{"jobcluster"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.AddDate(0, 0, days),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          keyID(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return KeyPair{}, fmt.Errorf("create ca certificate: %w", err)
	}
	return encode(der, key)
}

// Request says what certificate CreateCert makes.
type Request struct {
	Identity Identity
	// DNSNames and IPs are added to the certificate's SANs; a server's
	// also get localhost and 127.0.0.1.
	DNSNames []string
	IPs      []net.IP
	// Days is the lifetime; zero means DefaultCertDays.
	Days int
}

// CreateCert makes a key pair for req.Identity signed by ca. Servers and
// agents accept connections as well as make them, so their certificates
// serve both ends; a client's only makes them.
func CreateCert(ca CA, req Request, now time.Time) (KeyPair, error) {
	if err := req.Identity.Validate(); err != nil {
		return KeyPair{}, fmt.Errorf("certificate identity: %w", err)
	}
	days := req.Days
	if days <= 0 {
		days = DefaultCertDays
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return KeyPair{}, fmt.Errorf("generate key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return KeyPair{}, err
	}
	notAfter := now.AddDate(0, 0, days)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:         req.Identity.Name,
			OrganizationalUnit: []string{string(req.Identity.Role)},
			Organization:       []string{"jobcluster"},
		},
		NotBefore:      now.Add(-clockSkew),
		NotAfter:       notAfter,
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		URIs:           []*url.URL{req.Identity.URI()},
		DNSNames:       req.DNSNames,
		IPAddresses:    req.IPs,
		SubjectKeyId:   keyID(&key.PublicKey),
		AuthorityKeyId: ca.Cert.SubjectKeyId,
	}
	if req.Identity.Role != RoleClient {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if req.Identity.Role == RoleServer {
		tmpl.DNSNames = appendNew(tmpl.DNSNames, "localhost")
		if !containsIP(tmpl.IPAddresses, net.IPv4(127, 0, 0, 1)) {
			tmpl.IPAddresses = append(tmpl.IPAddresses, net.IPv4(127, 0, 0, 1))
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return KeyPair{}, fmt.Errorf("sign certificate: %w", err)
	}
	return encode(der, key)
}

// ParseCA reads a CA certificate and its key from PEM.
func ParseCA(certPEM, keyPEM []byte) (CA, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return CA{}, errors.New("ca certificate: no PEM CERTIFICATE block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return CA{}, fmt.Errorf("ca certificate: %w", err)
	}
	if !cert.IsCA {
		return CA{}, errors.New("ca certificate: not a CA certificate")
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return CA{}, errors.New("ca key: no PEM block")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return CA{}, fmt.Errorf("ca key: %w", err)
	}
	key, ok := parsed.(crypto.Signer)
	if !ok {
		return CA{}, fmt.Errorf("ca key: %T cannot sign", parsed)
	}
	if !publicKeysEqual(key.Public(), cert.PublicKey) {
		return CA{}, errors.New("ca key does not belong to the ca certificate")
	}
	return CA{Cert: cert, Key: key}, nil
}

func encode(der []byte, key *ecdsa.PrivateKey) (KeyPair, error) {
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return KeyPair{}, fmt.Errorf("encode key: %w", err)
	}
	return KeyPair{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}),
	}, nil
}

func newSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	return serial.Add(serial, big.NewInt(1)), nil
}

func keyID(pub *ecdsa.PublicKey) []byte {
	b, err := pub.Bytes()
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(b)
	return sum[:20]
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

func appendNew(names []string, name string) []string {
	for _, n := range names {
		if n == name {
			return names
		}
	}
	return append(names, name)
}

func containsIP(ips []net.IP, ip net.IP) bool {
	for _, i := range ips {
		if i.Equal(ip) {
			return true
		}
	}
	return false
}
