package kafkatest

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/finbeam/finbeam/testing/tlstest"
)

// TLSFiles are the PEM files a client of a StartTLS broker needs.
type TLSFiles struct {
	CA   string // the test CA that signed the broker's and the client's certificates
	Cert string // a client certificate signed by CA
	Key  string // its key
}

// StartTLS is Start with TLS on every listener and a client certificate required (mutual TLS). It
// makes a throwaway CA, a server certificate for 127.0.0.1 and a client certificate in dir
// (tlstest), and returns the client's paths. The helpers of Broker do not speak TLS.
func StartTLS(dir string, partitions int32, topics ...string) (*Broker, TLSFiles, error) {
	f, err := tlstest.Make(dir)
	if err != nil {
		return nil, TLSFiles{}, fmt.Errorf("kafkatest: making TLS certificates: %w", err)
	}
	server, err := f.ServerConfig()
	if err != nil {
		return nil, TLSFiles{}, fmt.Errorf("kafkatest: %w", err)
	}
	b, err := start(0, partitions, topics, kfake.TLS(server))
	return b, TLSFiles{CA: f.CA, Cert: f.ClientCert, Key: f.ClientKey}, err
}
