package processmetrics

import (
	"bytes"
	_ "embed"
	"fmt"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/finbeam/finbeam/pipelines/internal/declared"
)

//go:embed processes.yaml
var defaultDefinitions []byte

// Process is one business process: its ordered steps and which actions belong to it.
type Process struct {
	Name     string            `yaml:"name" json:"name"`
	Products []string          `yaml:"products" json:"products"` // empty: any product
	Steps    []string          `yaml:"steps" json:"steps"`
	Actions  map[string]string `yaml:"actions" json:"actions"` // action -> step; default: the step of the same name
}

// Definitions are the processes, in matching order.
type Definitions struct {
	Processes []Process `yaml:"processes" json:"processes"`
}

// DefaultDefinitions returns the definitions shipped with finbeam (processes.yaml).
func DefaultDefinitions() Definitions { return declared.Starter(defaultDefinitions, ParseDefinitions) }

// LoadDefinitions reads definitions from a YAML (or JSON) file.
func LoadDefinitions(path string) (Definitions, error) {
	return declared.Load(path, "process definitions", ParseDefinitions, nil)
}

// ParseDefinitions reads and checks definitions: unknown keys, a process without a name or steps, a
// repeated name or step, and an action mapped to no step of its process are errors.
func ParseDefinitions(b []byte) (Definitions, error) {
	var d Definitions
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&d); err != nil {
		return d, err
	}
	if len(d.Processes) == 0 {
		return d, fmt.Errorf("no process defined")
	}
	names := map[string]bool{}
	for i, p := range d.Processes {
		switch {
		case p.Name == "":
			return d, fmt.Errorf("process %d has no name", i+1)
		case names[p.Name]:
			return d, fmt.Errorf("process %q is defined twice", p.Name)
		case len(p.Steps) == 0:
			return d, fmt.Errorf("process %q has no steps", p.Name)
		}
		names[p.Name] = true
		for j, s := range p.Steps {
			if slices.Index(p.Steps, s) != j {
				return d, fmt.Errorf("process %q: step %q is listed twice", p.Name, s)
			}
		}
		for a, s := range p.Actions {
			if !slices.Contains(p.Steps, s) {
				return d, fmt.Errorf("process %q: action %q maps to %q, which is not one of its steps", p.Name, a, s)
			}
		}
	}
	return d, nil
}

// Match returns the process and step index of an action, by its product and action name.
func (d Definitions) Match(product, action *string) (proc, step int, ok bool) {
	if action == nil {
		return 0, 0, false
	}
	for i, p := range d.Processes {
		if len(p.Products) > 0 && (product == nil || !slices.Contains(p.Products, *product)) {
			continue
		}
		name := *action
		if s, mapped := p.Actions[name]; mapped {
			name = s
		}
		if j := slices.Index(p.Steps, name); j >= 0 {
			return i, j, true
		}
	}
	return 0, 0, false
}
