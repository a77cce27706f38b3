package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/segmentio/kafka-go"

	"github.com/finbeam/finbeam/io/kafkaio"
)

// alert is one line of the alert sink: a check of a variable that crossed its limit.
type alert struct {
	finding
	Variable   string `json:"variable"`
	Period     span   `json:"period"`
	Baseline   span   `json:"baseline"`
	DetectedAt string `json:"detected_at"`
}

// alerts lists the findings of a report as alert lines, the worst first within a variable.
func (r report) alerts() []alert {
	var as []alert
	for _, v := range r.Variables {
		for _, f := range v.Findings {
			as = append(as, alert{finding: f, Variable: v.Variable, Period: r.Period, Baseline: r.Baseline, DetectedAt: r.GeneratedAt})
		}
	}
	return as
}

// alertSink is where alert lines go: a JSONL file, appended to, or a Kafka topic (keyed by the
// variable's name).
type alertSink interface {
	write(ctx context.Context, as []alert) error
	String() string
}

// fileSink writes alert lines to a file: appended to a file the user named (a log of every run's
// alerts), or replacing the default one beside the report (this run's alerts only).
type fileSink struct {
	path    string
	replace bool
}

func (s fileSink) String() string { return s.path }

func (s fileSink) write(_ context.Context, as []alert) error {
	mode := os.O_APPEND
	if s.replace {
		mode = os.O_TRUNC
	}
	f, err := os.OpenFile(s.path, os.O_CREATE|mode|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	for _, a := range as {
		b, err := json.Marshal(a)
		if err != nil {
			f.Close()
			return err
		}
		if _, err := f.Write(append(b, '\n')); err != nil {
			f.Close()
			return fmt.Errorf("alerts: %w", err)
		}
	}
	return f.Close()
}

type kafkaSink struct{ cfg kafkaio.WriteConfig }

func (s kafkaSink) String() string { return "Kafka topic " + s.cfg.Topic }

func (s kafkaSink) write(ctx context.Context, as []alert) error {
	if len(as) == 0 {
		return nil
	}
	w, err := kafkaio.NewWriter(s.cfg)
	if err != nil {
		return err
	}
	msgs := make([]kafka.Message, len(as))
	for i, a := range as {
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		msgs[i] = kafka.Message{Key: []byte(a.Variable), Value: b}
	}
	if err := kafkaio.WriteAll(ctx, w, msgs); err != nil {
		w.Close()
		return fmt.Errorf("alerts: writing %d messages to %s: %w", len(msgs), s.cfg.Topic, err)
	}
	return w.Close()
}
