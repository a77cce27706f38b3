package bigqueryio

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/bigquery/storage/managedwriter"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Config says where the tables are and how to write them.
type Config struct {
	// Project is the Google Cloud project that holds the dataset. Required.
	Project string
	// Dataset holds the tables. Required; created with CreateTables when missing.
	Dataset string
	// Endpoint is the REST address of a BigQuery emulator (e.g. http://127.0.0.1:9050) and
	// StorageEndpoint the gRPC address of its Storage API (e.g. 127.0.0.1:9060). Set both or
	// neither: empty, the sink writes to Google BigQuery with Application Default Credentials.
	Endpoint        string
	StorageEndpoint string
	// CreateTables creates the dataset, the tables and their _current views when missing.
	CreateTables bool
	// BatchRows is the number of rows per append request. Default 500.
	BatchRows int
}

// BatchRows' default.
const DefaultBatchRows = 500

var idRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// Validate checks the settings; errors name the setting.
func (c Config) Validate() error {
	switch {
	case c.Project == "":
		return fmt.Errorf("bigquery: no project given")
	case c.Dataset == "":
		return fmt.Errorf("bigquery: no dataset given")
	case !idRE.MatchString(c.Dataset):
		return fmt.Errorf("bigquery: dataset %q: letters, digits and underscores only", c.Dataset)
	case (c.Endpoint == "") != (c.StorageEndpoint == ""):
		return fmt.Errorf("bigquery: an emulator needs both its REST endpoint and its storage (gRPC) endpoint")
	case c.BatchRows < 0:
		return fmt.Errorf("bigquery: batch rows %d: want a positive number", c.BatchRows)
	case c.Endpoint != "" && !strings.Contains(c.Endpoint, "://"):
		return fmt.Errorf("bigquery: endpoint %q: want a URL such as http://127.0.0.1:9050", c.Endpoint)
	}
	return nil
}

func (c Config) batchRows() int {
	if c.BatchRows > 0 {
		return c.BatchRows
	}
	return DefaultBatchRows
}

// Client opens a client of the REST API (tables, views, queries).
func (c Config) Client(ctx context.Context) (*bigquery.Client, error) {
	var opts []option.ClientOption
	if c.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(c.Endpoint), option.WithoutAuthentication())
	}
	return bigquery.NewClient(ctx, c.Project, opts...)
}

// writer opens a client of the Storage Write API. It multiplexes, which makes every append request
// name its stream (a connection of a client that does not repeats the name only in its first
// request); each writer has a client of its own, so one connection carries one table's rows.
func (c Config) writer(ctx context.Context) (*managedwriter.Client, error) {
	opts := []option.ClientOption{managedwriter.WithMultiplexing()}
	if c.StorageEndpoint != "" {
		opts = append(opts, option.WithEndpoint(c.StorageEndpoint), option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	}
	return managedwriter.NewClient(ctx, c.Project, opts...)
}
