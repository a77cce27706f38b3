package kafkatest

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/mavenjars"
)

// KafkaVersion is the Apache Kafka version broker/pom.xml pins.
const KafkaVersion = "4.1.1"

var (
	//go:embed broker/pom.xml
	brokerPOM []byte
	//go:embed broker/jars.sha256
	brokerSums []byte
)

// BrokerJars are the real broker's pinned jars (testing/mavenjars).
var BrokerJars = mavenjars.Set{Name: "kafka-" + KafkaVersion, POM: brokerPOM, Sums: brokerSums}

// RealOptions of StartReal. Zero values take the defaults.
type RealOptions struct {
	Port       int      // the client listener on 127.0.0.1; 0: a free one
	Partitions int32    // of each topic created, and of auto-created ones; default 4
	Topics     []string // created at start, each ready (a leader per partition) when StartReal returns
	Dir        string   // the log directory and the broker's log; default: a temporary one, removed by Close
	Logf       func(format string, args ...any)
}

// realBroker is a Kafka broker in a JVM of its own.
type realBroker struct {
	addr      string
	dir       string
	temp      bool
	classpath string
	props     string
	starts    int
	jvm       *mavenjars.Process
}

// StartReal starts a real Apache Kafka broker (KRaft: broker and controller in one JVM, one node) on
// 127.0.0.1 from the pinned jars, formats its storage, creates topics and returns once the broker
// answers (about 5 s). Topics that are written before they exist are created with Partitions.
func StartReal(ctx context.Context, o RealOptions) (*Broker, error) {
	if o.Partitions <= 0 {
		o.Partitions = 4
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	lib, err := BrokerJars.Fetch(ctx, o.Logf)
	if err != nil {
		return nil, err
	}
	r := &realBroker{dir: o.Dir}
	if r.dir == "" {
		if r.dir, err = os.MkdirTemp("", "finbeam-kafka-"); err != nil {
			return nil, err
		}
		r.temp = true
	}
	port, controller := o.Port, 0
	if port == 0 {
		if port, err = beamtest.FreePort(); err != nil {
			return nil, err
		}
	}
	if controller, err = beamtest.FreePort(); err != nil {
		return nil, err
	}
	r.addr = fmt.Sprintf("127.0.0.1:%d", port)
	props := filepath.Join(r.dir, "server.properties")
	data := filepath.Join(r.dir, "data")
	if err := os.WriteFile(props, []byte(fmt.Sprintf(`# Written by testing/kafkatest.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:%d
listeners=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d
advertised.listeners=PLAINTEXT://127.0.0.1:%d
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=%s
num.partitions=%d
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
`, controller, port, controller, port, data, o.Partitions)), 0o644); err != nil {
		return nil, err
	}
	classpath := filepath.Join(lib, "*")
	format := exec.CommandContext(ctx, "java", "-cp", classpath, "kafka.tools.StorageTool", "format", "-t", "ZmluYmVhbS10ZXN0LWthZg", "-c", props)
	if out, err := format.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("kafkatest: formatting the broker's storage: %w\n%s", err, beamtest.Tail(string(out), 10))
	}
	r.classpath, r.props = classpath, props
	if err := r.start(); err != nil {
		return nil, err
	}
	b := &Broker{real: r}
	if err := r.ready(ctx, o.Topics, int(o.Partitions)); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func (r *realBroker) start() (err error) {
	r.starts++
	log := filepath.Join(r.dir, fmt.Sprintf("broker-%d.log", r.starts))
	if r.jvm, err = mavenjars.Java("broker", log, "-Xmx512m", "-cp", r.classpath, "kafka.Kafka", r.props); err != nil {
		return fmt.Errorf("kafkatest: %w", err)
	}
	return nil
}

// Kill kills a real broker's JVM as a crash would (SIGKILL); its data stays for Restart.
func (b *Broker) Kill() {
	if b.real == nil {
		panic("kafkatest: Kill needs a real broker (StartReal)")
	}
	b.real.jvm.Kill()
}

// Restart starts a killed real broker again on the same port and data and returns once it answers
// and the topics have leaders.
func (b *Broker) Restart(ctx context.Context, topics ...string) error {
	if err := b.real.start(); err != nil {
		return err
	}
	return b.real.ready(ctx, topics, 0)
}

// ready waits until the broker answers and every topic exists with a leader for each partition,
// creating the topics with partitions (0: the topics exist already, a restart).
func (r *realBroker) ready(ctx context.Context, topics []string, partitions int) error {
	c := &kafka.Client{Addr: kafka.TCP(r.addr), Timeout: 5 * time.Second}
	deadline := time.Now().Add(time.Minute)
	created := partitions <= 0
	for {
		if err := r.jvm.Exited(); err != nil {
			return fmt.Errorf("kafkatest: %w", err)
		}
		err := r.check(ctx, c, topics)
		if err == nil {
			return nil
		}
		if !created && len(topics) > 0 {
			var ts []kafka.TopicConfig
			for _, t := range topics {
				ts = append(ts, kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: 1})
			}
			if res, cerr := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: ts}); cerr == nil {
				created = true
				for t, e := range res.Errors {
					if e != nil && !errors.Is(e, kafka.TopicAlreadyExists) {
						return fmt.Errorf("kafkatest: creating topic %s: %w", t, e)
					}
				}
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("kafkatest: the broker on %s was not ready within a minute: %v", r.addr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// check is nil when the broker answers and each topic has a leader for every partition.
func (r *realBroker) check(ctx context.Context, c *kafka.Client, topics []string) error {
	conn, err := net.DialTimeout("tcp", r.addr, time.Second)
	if err != nil {
		return err
	}
	conn.Close()
	if len(topics) == 0 {
		return nil
	}
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return err
	}
	for _, t := range md.Topics {
		if t.Error != nil || len(t.Partitions) == 0 {
			return fmt.Errorf("topic %s: %v", t.Name, t.Error)
		}
		for _, p := range t.Partitions {
			if p.Leader.ID < 0 || p.Error != nil {
				return fmt.Errorf("topic %s partition %d has no leader yet", t.Name, p.ID)
			}
		}
	}
	return nil
}

// close stops the JVM (SIGTERM, then SIGKILL after 10 s) and removes a temporary directory.
func (r *realBroker) close() {
	r.jvm.Stop()
	if r.temp {
		os.RemoveAll(r.dir)
	}
}
