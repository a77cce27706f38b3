package kafkatest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TLSFiles are the PEM files a client of a StartTLS broker needs.
type TLSFiles struct {
	CA   string // the test CA that signed the broker's and the client's certificates
	Cert string // a client certificate signed by CA
	Key  string // its key
}

// StartTLS is Start with TLS on every listener and a client certificate required (mutual TLS). It
// makes a throwaway CA, a server certificate for 127.0.0.1 and a client certificate in dir, and
// returns their paths. The helpers of Broker do not speak TLS.
func StartTLS(dir string, partitions int32, topics ...string) (*Broker, TLSFiles, error) {
	files, server, err := makeCerts(dir)
	if err != nil {
		return nil, TLSFiles{}, fmt.Errorf("kafkatest: making TLS certificates: %w", err)
	}
	b, err := start(0, partitions, topics, kfake.TLS(server))
	return b, files, err
}

// makeCerts writes a CA, and a client certificate and key it signed, into dir, and returns them with
// the server's TLS configuration (certificate for 127.0.0.1, client certificates from the CA required).
func makeCerts(dir string) (TLSFiles, *tls.Config, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return TLSFiles{}, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "finbeam test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return TLSFiles{}, nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return TLSFiles{}, nil, err
	}
	leaf := func(serial int64, name string, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		return der, key, err
	}
	serverDER, serverKey, err := leaf(2, "127.0.0.1", x509.ExtKeyUsageServerAuth)
	if err != nil {
		return TLSFiles{}, nil, err
	}
	clientDER, clientKey, err := leaf(3, "finbeam client", x509.ExtKeyUsageClientAuth)
	if err != nil {
		return TLSFiles{}, nil, err
	}
	clientKeyDER, err := x509.MarshalECPrivateKey(clientKey)
	if err != nil {
		return TLSFiles{}, nil, err
	}
	files := TLSFiles{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "client.pem"), Key: filepath.Join(dir, "client-key.pem")}
	for path, block := range map[string]*pem.Block{
		files.CA:   {Type: "CERTIFICATE", Bytes: caDER},
		files.Cert: {Type: "CERTIFICATE", Bytes: clientDER},
		files.Key:  {Type: "EC PRIVATE KEY", Bytes: clientKeyDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			return TLSFiles{}, nil, err
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	server := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{serverDER}, PrivateKey: serverKey}},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
	return files, server, nil
}
