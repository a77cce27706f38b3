package kafkatest

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/finbeam/finbeam/testing/tlstest"
)

// StartTLS is Start with TLS on every listener and a client certificate required (mutual TLS). It
// makes a throwaway CA, a server certificate for 127.0.0.1 and a client certificate in dir
// (tlstest) and returns their files. The helpers of Broker do not speak TLS.
func StartTLS(dir string, partitions int32, topics ...string) (*Broker, tlstest.Files, error) {
	f, err := tlstest.Make(dir)
	if err != nil {
		return nil, f, fmt.Errorf("kafkatest: making TLS certificates: %w", err)
	}
	server, err := f.ServerConfig()
	if err != nil {
		return nil, f, fmt.Errorf("kafkatest: %w", err)
	}
	b, err := start(0, partitions, topics, kfake.TLS(server))
	return b, f, err
}
