// Package wire gives finbeam's element and state types a Beam coder that every runner passes through
// unread: Beam's row encoding of the struct, wrapped as an opaque custom coder.
//
// Without it the Go SDK encodes a struct as a schema row (beam:coder:row:v1), a coder the Java
// runners know, so portable Flink decodes and re-encodes the struct between its operators. The Go SDK
// writes a nil slice or map as a null field, but its schema marks only pointer fields nullable, and
// Java's RowCoder re-encodes a row whose schema has no nullable field with an empty null bitmap
// while leaving the null fields out: the next decode reads the fields after them in their place
// (a Flink job fails with "varint overflow" or an EOFException, or worse, reads wrong values). With
// a custom coder the runner sees length-prefixed bytes only; prism, Flink and Dataflow all carry
// them as they are.
//
// Register every struct type that is a PCollection element (alone, in a KV or in a slice), a state
// value or a splittable DoFn's restriction, in the init function of the package that uses it:
//
//	func init() { wire.Register[Delta]() }
//
// RowCoders reports the row coders left in a pipeline; every job's tests check there are none.
package wire

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/funcx"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/graphx"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/util/reflectx"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"google.golang.org/protobuf/proto"
)

// Register gives the struct type T an opaque coder holding its row encoding. Call it from init
// only (the pipeline's workers must register the same names). T must not be used as a grouping key
// when it holds a map: its encoding is then not deterministic.
func Register[T any]() {
	t := reflect.TypeOf((*T)(nil)).Elem()
	if t.Kind() != reflect.Struct {
		panic(fmt.Sprintf("wire.Register: %v is not a struct type", t))
	}
	enc, err := coder.RowEncoderForStruct(t)
	if err != nil {
		panic(fmt.Sprintf("wire.Register: %v: %v", t, err))
	}
	dec, err := coder.RowDecoderForStruct(t)
	if err != nil {
		panic(fmt.Sprintf("wire.Register: %v: %v", t, err))
	}
	encode := func(v T) ([]byte, error) {
		var b bytes.Buffer
		err := enc(v, &b)
		return b.Bytes(), err
	}
	decode := func(b []byte) (T, error) {
		v, err := dec(bytes.NewReader(b))
		if err != nil {
			var zero T
			return zero, fmt.Errorf("wire: decoding %v: %w", t, err)
		}
		return v.(T), nil
	}
	// Closures of a generic function share one compiler name for every T: name them by the type,
	// the same in the pipeline's driver and in its workers.
	name := "finbeam/wire." + t.PkgPath() + "." + t.Name()
	runtime.RegisterFunctionWithName(name+".encode", encode)
	runtime.RegisterFunctionWithName(name+".decode", decode)
	encFn, err := funcx.New(reflectx.MakeFuncWithName(name+".encode", encode))
	if err != nil {
		panic(fmt.Sprintf("wire.Register: %v: %v", t, err))
	}
	decFn, err := funcx.New(reflectx.MakeFuncWithName(name+".decode", decode))
	if err != nil {
		panic(fmt.Sprintf("wire.Register: %v: %v", t, err))
	}
	beam.RegisterType(t)
	coder.RegisterDeterministicCoderWithFuncs(t, encFn, decFn)
}

// RowCoders returns the schema row coders p would send a runner, each named by the PCollections,
// state values and splittable DoFn restrictions it encodes: the struct types still to Register. A pipeline all of whose types
// are registered gives none.
func RowCoders(p *beam.Pipeline) ([]string, error) {
	edges, _, err := p.Build()
	if err != nil {
		return nil, err
	}
	pl, err := graphx.Marshal(edges, &graphx.Options{Environment: &pipepb.Environment{Urn: "beam:env:loopback:v1"}})
	if err != nil {
		return nil, err
	}
	coders := pl.GetComponents().GetCoders()
	var rows []string
	for id, c := range coders {
		if c.GetSpec().GetUrn() != "beam:coder:row:v1" {
			continue
		}
		var users []string
		for _, pc := range pl.GetComponents().GetPcollections() {
			if uses(coders, pc.GetCoderId(), id) {
				users = append(users, pc.GetUniqueName())
			}
		}
		for _, t := range pl.GetComponents().GetTransforms() {
			if t.GetSpec().GetUrn() != "beam:transform:pardo:v1" {
				continue
			}
			var pardo pipepb.ParDoPayload
			if err := proto.Unmarshal(t.GetSpec().GetPayload(), &pardo); err != nil {
				return nil, err
			}
			if uses(coders, pardo.GetRestrictionCoderId(), id) {
				users = append(users, t.GetUniqueName()+" restriction")
			}
			for name, st := range pardo.GetStateSpecs() {
				if uses(coders, st.GetReadModifyWriteSpec().GetCoderId(), id) {
					users = append(users, t.GetUniqueName()+" state "+name)
				}
			}
		}
		sort.Strings(users)
		rows = append(rows, fmt.Sprintf("%s (%s)", schemaName(c), strings.Join(users, ", ")))
	}
	sort.Strings(rows)
	return rows, nil
}

// uses reports whether the coder id is target or has it among its components, at any depth.
func uses(coders map[string]*pipepb.Coder, id, target string) bool {
	if id == "" {
		return false
	}
	if id == target {
		return true
	}
	for _, c := range coders[id].GetComponentCoderIds() {
		if uses(coders, c, target) {
			return true
		}
	}
	return false
}

// schemaName names a row coder by its schema's fields.
func schemaName(c *pipepb.Coder) string {
	var s pipepb.Schema
	if err := proto.Unmarshal(c.GetSpec().GetPayload(), &s); err != nil {
		return "row{?}"
	}
	var names []string
	for _, f := range s.GetFields() {
		names = append(names, f.GetName())
	}
	return "row{" + strings.Join(names, ",") + "}"
}
