package variablepool

import (
	"bytes"
	_ "embed"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/finbeam/finbeam/pipelines/internal/declared"
)

//go:embed variables.yaml
var defaultVariables []byte

// Aggregations a variable may declare.
const (
	Count         = "count"
	Sum           = "sum"
	Min           = "min"
	Max           = "max"
	Avg           = "avg"
	DistinctCount = "distinct_count"
	LastValue     = "last_value"
	FirstSeenAge  = "first_seen_age"
)

// Aggregations lists them in the order the docs give.
var Aggregations = []string{Count, Sum, Min, Max, Avg, DistinctCount, LastValue, FirstSeenAge}

// AnySource is the source of a variable over every stream (first_seen_age).
const AnySource = "any"

// DefaultBuckets is Variable.Buckets when it is zero.
const DefaultBuckets = 60

// Variable is one declared variable (see variables.yaml for the file's documentation).
type Variable struct {
	Name        string         `yaml:"name" json:"name"`
	Source      string         `yaml:"source" json:"source"`
	Aggregation string         `yaml:"aggregation" json:"aggregation"`
	Field       string         `yaml:"field,omitempty" json:"field,omitempty"`
	Window      string         `yaml:"window" json:"window"`
	Buckets     int            `yaml:"buckets,omitempty" json:"buckets,omitempty"`
	Filter      map[string]any `yaml:"filter,omitempty" json:"filter,omitempty"`
	Unit        string         `yaml:"unit,omitempty" json:"unit,omitempty"`
	Monitor     *Monitor       `yaml:"monitor,omitempty" json:"monitor,omitempty"`

	// Set by ParseVariables.
	WindowMs int64         `yaml:"-" json:"-"` // 0: lifetime
	BucketMs int64         `yaml:"-" json:"-"` // WindowMs / Buckets
	UnitMs   int64         `yaml:"-" json:"-"` // first_seen_age
	filter   []fieldEquals // Filter, sorted by field
}

// Monitor holds a variable's quality thresholds (cmd/varquality). A zero threshold takes the file's
// monitor_defaults; Enabled false leaves the variable out of monitoring.
type Monitor struct {
	Enabled        *bool   `yaml:"enabled,omitempty" json:"enabled,omitempty"`
	PSIWarn        float64 `yaml:"psi_warn,omitempty" json:"psi_warn,omitempty"`
	PSIAlert       float64 `yaml:"psi_alert,omitempty" json:"psi_alert,omitempty"`
	MissingRateMax float64 `yaml:"missing_rate_max,omitempty" json:"missing_rate_max,omitempty"`
	MeanShiftMax   float64 `yaml:"mean_shift_max,omitempty" json:"mean_shift_max,omitempty"`
	MinCount       int     `yaml:"min_count,omitempty" json:"min_count,omitempty"` // values each side needs for the checks
}

// Defaults of Monitor when the file gives none.
var DefaultMonitor = Monitor{PSIWarn: 0.1, PSIAlert: 0.25, MissingRateMax: 0.2, MeanShiftMax: 0.5, MinCount: 100}

// Variables are the declared variables, in the file's order, and the monitoring defaults.
type Variables struct {
	MonitorDefaults *Monitor   `yaml:"monitor_defaults,omitempty" json:"monitor_defaults,omitempty"`
	Variables       []Variable `yaml:"variables" json:"variables"`
}

// DefaultVariables returns the starter set shipped with finbeam (variables.yaml).
func DefaultVariables() Variables { return declared.Starter(defaultVariables, ParseVariables) }

// LoadVariables reads variables from a YAML (or JSON) file; an empty path gives the starter set
// (DefaultVariables).
func LoadVariables(path string) (Variables, error) {
	return declared.Load(path, "variables", ParseVariables, DefaultVariables)
}

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParseVariables reads and checks variables. Errors name the variable and the key at fault: an
// unknown key, source, aggregation, field (for the source) or unit; a missing or repeated name; a
// field where the aggregation takes none or none where it needs one; a window that is not a positive
// duration or "lifetime", or that its buckets do not divide into whole milliseconds; a filter on an
// unknown field or with a value of the wrong type; first_seen_age over a window.
func ParseVariables(b []byte) (Variables, error) {
	var vs Variables
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&vs); err != nil {
		return vs, err
	}
	if len(vs.Variables) == 0 {
		return vs, fmt.Errorf("no variable defined")
	}
	seen := map[string]bool{}
	for i := range vs.Variables {
		v := &vs.Variables[i]
		if !nameRE.MatchString(v.Name) {
			return vs, fmt.Errorf("variable %d: name %q must be letters, digits and _", i+1, v.Name)
		}
		if seen[v.Name] {
			return vs, fmt.Errorf("variable %q is defined twice", v.Name)
		}
		seen[v.Name] = true
		if err := v.check(); err != nil {
			return vs, fmt.Errorf("variable %q: %w", v.Name, err)
		}
	}
	if m := vs.MonitorDefaults; m != nil {
		if err := m.check(); err != nil {
			return vs, fmt.Errorf("monitor_defaults: %w", err)
		}
	}
	return vs, nil
}

func (v *Variable) check() error {
	fields, ok := sourceFields[v.Source]
	if !ok && v.Source != AnySource {
		return fmt.Errorf("source %q is not one of %s or %s", v.Source, strings.Join(Sources, ", "), AnySource)
	}
	if !slices.Contains(Aggregations, v.Aggregation) {
		return fmt.Errorf("aggregation %q is not one of %s", v.Aggregation, strings.Join(Aggregations, ", "))
	}
	if v.Source == AnySource && v.Aggregation != Count && v.Aggregation != FirstSeenAge {
		return fmt.Errorf("source %q takes count or first_seen_age only (the streams share no other field)", AnySource)
	}
	needsField := v.Aggregation != Count && v.Aggregation != FirstSeenAge
	switch {
	case needsField && v.Field == "":
		return fmt.Errorf("aggregation %s needs a field", v.Aggregation)
	case !needsField && v.Field != "":
		return fmt.Errorf("aggregation %s takes no field (field %q)", v.Aggregation, v.Field)
	case needsField:
		kind, ok := fields[v.Field]
		if !ok {
			return fmt.Errorf("field %q is not a field of %s (%s)", v.Field, v.Source, strings.Join(fieldNames(v.Source), ", "))
		}
		numeric := v.Aggregation == Sum || v.Aggregation == Avg || v.Aggregation == Min || v.Aggregation == Max
		if numeric && kind != kindNumber {
			return fmt.Errorf("aggregation %s needs a numeric field; %q is a %s", v.Aggregation, v.Field, kind)
		}
	}
	if v.Window == "lifetime" {
		v.WindowMs = 0
		if v.Buckets != 0 {
			return fmt.Errorf("buckets: a lifetime window keeps no buckets")
		}
	} else {
		d, err := ParseWindow(v.Window)
		if err != nil {
			return err
		}
		if v.Aggregation == FirstSeenAge {
			return fmt.Errorf("first_seen_age takes window: lifetime")
		}
		if v.Buckets == 0 {
			v.Buckets = DefaultBuckets
		}
		if v.Buckets < 1 || v.Buckets > 10000 {
			return fmt.Errorf("buckets %d: must be 1 to 10000", v.Buckets)
		}
		v.WindowMs = d.Milliseconds()
		if v.WindowMs%int64(v.Buckets) != 0 {
			return fmt.Errorf("window %s does not divide into %d buckets of whole milliseconds", v.Window, v.Buckets)
		}
		v.BucketMs = v.WindowMs / int64(v.Buckets)
	}
	if v.Aggregation == FirstSeenAge {
		unit := v.Unit
		if unit == "" {
			unit = "d"
		}
		ms, ok := map[string]int64{"s": 1000, "m": 60000, "h": 3600000, "d": 86400000}[unit]
		if !ok {
			return fmt.Errorf("unit %q is not s, m, h or d", v.Unit)
		}
		v.UnitMs = ms
	} else if v.Unit != "" {
		return fmt.Errorf("unit is for first_seen_age only")
	}
	v.filter = nil
	for name, want := range v.Filter {
		kind, ok := fields[name]
		if !ok {
			return fmt.Errorf("filter: field %q is not a field of %s (%s)", name, v.Source, strings.Join(fieldNames(v.Source), ", "))
		}
		f, err := newFieldEquals(name, kind, want)
		if err != nil {
			return fmt.Errorf("filter: %w", err)
		}
		v.filter = append(v.filter, f)
	}
	slices.SortFunc(v.filter, func(a, b fieldEquals) int { return strings.Compare(a.field, b.field) })
	if v.Monitor != nil {
		if err := v.Monitor.check(); err != nil {
			return fmt.Errorf("monitor: %w", err)
		}
	}
	return nil
}

func (m *Monitor) check() error {
	if m.PSIWarn < 0 || m.PSIAlert < 0 || m.MissingRateMax < 0 || m.MissingRateMax > 1 || m.MeanShiftMax < 0 || m.MinCount < 0 {
		return fmt.Errorf("thresholds must be positive (missing_rate_max at most 1)")
	}
	if m.PSIWarn > 0 && m.PSIAlert > 0 && m.PSIWarn > m.PSIAlert {
		return fmt.Errorf("psi_warn %g is above psi_alert %g", m.PSIWarn, m.PSIAlert)
	}
	return nil
}

// ParseWindow reads a window length: a Go duration (90m, 24h) or a whole number of days (7d).
func ParseWindow(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err = fmt.Sscanf(n, "%d", &days); err == nil && fmt.Sprint(days) == n {
			d = time.Duration(days) * 24 * time.Hour
		} else {
			err = fmt.Errorf("not a number of days")
		}
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 || d%time.Millisecond != 0 {
		return 0, fmt.Errorf("window %q is not a positive duration such as 1h, 24h, 7d or lifetime", s)
	}
	return d, nil
}

// Monitoring returns v's thresholds: its own, else the file's defaults, else DefaultMonitor; ok is
// false when monitoring is disabled for it.
func (vs Variables) Monitoring(v Variable) (m Monitor, ok bool) {
	m = DefaultMonitor
	for _, o := range []*Monitor{vs.MonitorDefaults, v.Monitor} {
		if o == nil {
			continue
		}
		if o.Enabled != nil {
			m.Enabled = o.Enabled
		}
		for _, p := range []struct{ dst, src *float64 }{{&m.PSIWarn, &o.PSIWarn}, {&m.PSIAlert, &o.PSIAlert},
			{&m.MissingRateMax, &o.MissingRateMax}, {&m.MeanShiftMax, &o.MeanShiftMax}} {
			if *p.src != 0 {
				*p.dst = *p.src
			}
		}
		if o.MinCount != 0 {
			m.MinCount = o.MinCount
		}
	}
	return m, m.Enabled == nil || *m.Enabled
}

// Names returns the variables' names in the file's order.
func (vs Variables) Names() []string {
	var n []string
	for _, v := range vs.Variables {
		n = append(n, v.Name)
	}
	return n
}
