package kafkaio

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/finbeam/finbeam/io/internal/tlsfiles"
)

// Security is how to reach a secured cluster: TLS (optionally with a private CA and a client
// certificate) and SASL PLAIN or SCRAM. The zero Security is plaintext without authentication.
//
// The SASL password is never a field: PasswordEnv names an environment variable and PasswordFile a
// file that holds it, and both are read on the worker when it connects. So the password is not in
// the pipeline's serialized graph, its options, --help or any log line; on a cluster, set the
// variable or mount the file on every worker.
type Security struct {
	TLS      bool   // connect with TLS (also implied by CAFile or CertFile)
	CAFile   string // PEM of the CAs to trust; empty: the system's
	CertFile string // PEM client certificate for mutual TLS; needs KeyFile
	KeyFile  string // PEM key of CertFile

	SASL         string // "", "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512"
	Username     string
	PasswordEnv  string // environment variable holding the SASL password
	PasswordFile string // file holding the SASL password (trailing newline ignored)
}

// Validate checks the settings without reading secrets, naming the setting at fault.
func (s Security) Validate() error {
	if err := (tlsfiles.Files{CertFile: s.CertFile, KeyFile: s.KeyFile}).Validate("kafka"); err != nil {
		return err
	}
	switch strings.ToUpper(s.SASL) {
	case "":
		return nil
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		return fmt.Errorf("kafka SASL mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.SASL)
	}
	if s.Username == "" {
		return fmt.Errorf("kafka SASL %s needs a username", s.SASL)
	}
	if (s.PasswordEnv == "") == (s.PasswordFile == "") {
		return fmt.Errorf("kafka SASL %s needs exactly one of a password environment variable or a password file", s.SASL)
	}
	return nil
}

// client is the TLS configuration and the SASL mechanism of a connection (each nil when not used).
func (s Security) client() (*tls.Config, sasl.Mechanism, error) {
	t, err := tlsfiles.Files{On: s.TLS, CAFile: s.CAFile, CertFile: s.CertFile, KeyFile: s.KeyFile}.Config("kafka")
	if err != nil {
		return nil, nil, err
	}
	m, err := s.mechanism()
	return t, m, err
}

// password reads the SASL password from the environment or the file; the error never holds it.
func (s Security) password() (string, error) {
	if s.PasswordEnv != "" {
		p, ok := os.LookupEnv(s.PasswordEnv)
		if !ok {
			return "", fmt.Errorf("kafka SASL password: environment variable %s is not set", s.PasswordEnv)
		}
		return p, nil
	}
	b, err := os.ReadFile(s.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("kafka SASL password file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func (s Security) mechanism() (sasl.Mechanism, error) {
	if s.SASL == "" {
		return nil, nil
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	pw, err := s.password()
	if err != nil {
		return nil, err
	}
	switch strings.ToUpper(s.SASL) {
	case "PLAIN":
		return plain.Mechanism{Username: s.Username, Password: pw}, nil
	case "SCRAM-SHA-256":
		return scram.Mechanism(scram.SHA256, s.Username, pw)
	default:
		return scram.Mechanism(scram.SHA512, s.Username, pw)
	}
}

// dialer is the kafka-go Dialer of readers.
func (s Security) dialer() (*kafka.Dialer, error) {
	t, m, err := s.client()
	if err != nil {
		return nil, err
	}
	return &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: t, SASLMechanism: m}, nil
}

// transport is the kafka-go Transport of writers and admin requests.
func (s Security) transport() (*kafka.Transport, error) {
	t, m, err := s.client()
	if err != nil {
		return nil, err
	}
	return &kafka.Transport{Dial: (&net.Dialer{Timeout: 10 * time.Second}).DialContext, TLS: t, SASL: m}, nil
}
