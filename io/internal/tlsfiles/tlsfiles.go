// Package tlsfiles builds a client's TLS configuration from PEM files, for the Kafka and MySQL
// connections.
package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// Files name the PEM files of a TLS client; the zero Files with On false is no TLS.
type Files struct {
	On       bool   // connect with TLS (also implied by CAFile or CertFile)
	CAFile   string // the CAs to trust; empty: the system's
	CertFile string // client certificate for mutual TLS; needs KeyFile
	KeyFile  string // its key
}

// Validate checks that a certificate comes with its key; system names the connection in errors.
func (f Files) Validate(system string) error {
	if (f.CertFile == "") != (f.KeyFile == "") {
		return fmt.Errorf("%s TLS client certificate needs both a certificate file and a key file", system)
	}
	return nil
}

// Config is the TLS configuration, or nil without TLS; errors name system and the file at fault.
func (f Files) Config(system string) (*tls.Config, error) {
	if !f.On && f.CAFile == "" && f.CertFile == "" {
		return nil, nil
	}
	if err := f.Validate(system); err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CAFile != "" {
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s TLS CA file: %w", system, err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s TLS CA file %s: no PEM certificate in it", system, f.CAFile)
		}
	}
	if f.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s TLS client certificate: %w", system, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
