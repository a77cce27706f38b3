package antifraud

import (
	_ "embed"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"gopkg.in/yaml.v3"

	"github.com/finbeam/finbeam/pipelines/internal/declared"
)

//go:embed rules.yaml
var defaultRules []byte

// Rule kinds.
const (
	Velocity         = "velocity"
	Sharing          = "sharing"
	NoRealPath       = "no_real_path"
	ImpossibleTravel = "impossible_travel"
	LocationSanity   = "location_sanity"
)

// RuleKinds lists the rule kinds in the order the docs give.
var RuleKinds = []string{Velocity, Sharing, NoRealPath, ImpossibleTravel, LocationSanity}

// Entities a rule's state is kept per.
const (
	Account = "account"
	Device  = "device"
	IP      = "ip"
)

// Severities of an alert, lowest first.
var Severities = []string{"low", "medium", "high", "critical"}

// Region is a box of coordinates, bounds included.
type Region struct {
	LatMin, LatMax, LonMin, LonMax decimal.Decimal
}

// Contains reports whether (lat, lon) lies in the box.
func (r Region) Contains(lat, lon decimal.Decimal) bool {
	return lat.GreaterThanOrEqual(r.LatMin) && lat.LessThanOrEqual(r.LatMax) && lon.GreaterThanOrEqual(r.LonMin) && lon.LessThanOrEqual(r.LonMax)
}

// Rule is one declared rule (rules.yaml documents the file).
type Rule struct {
	ID, Kind, Severity, Description string
	Entity                          string        // the entity whose state the rule keeps: Account, Device or IP
	Window                          time.Duration // sliding, in event time
	Kinds                           []string      // benefit kinds the rule looks at; empty: all

	MaxEvents          int              // velocity: more than this many events (0: no count limit)
	MaxAmount          *decimal.Decimal // velocity: amounts summed above this (nil: no amount limit)
	MaxAccounts        int              // sharing
	MinGap             time.Duration    // no_real_path: a path event less than this before the claim is too fast
	MaxSpeedKmh, MinKm float64          // impossible_travel
	RequireCoordinates []string         // location_sanity: kinds whose events must carry coordinates
	Region             *Region          // location_sanity: where coordinates must lie (nil: anywhere)
}

// Looks reports whether the rule looks at benefit events of kind.
func (r *Rule) Looks(kind string) bool { return len(r.Kinds) == 0 || slices.Contains(r.Kinds, kind) }

// Rules are the declared rules, in the file's order.
type Rules []Rule

// DefaultRules returns the starter set shipped with finbeam (rules.yaml).
func DefaultRules() Rules { return declared.Starter(defaultRules, ParseRules) }

// LoadRules reads rules from a YAML file; an empty path gives the starter set (DefaultRules).
func LoadRules(path string) (Rules, error) {
	return declared.Load(path, "rules", ParseRules, DefaultRules)
}

// For returns the rules whose state is kept per entity, in the file's order.
func (rs Rules) For(entity string) []Rule {
	var out []Rule
	for _, r := range rs {
		if r.Entity == entity {
			out = append(out, r)
		}
	}
	return out
}

// Has reports whether a rule is of kind.
func (rs Rules) Has(kind string) bool {
	return slices.ContainsFunc(rs, func(r Rule) bool { return r.Kind == kind })
}

// keys are the keys each rule kind takes besides the common ones.
var (
	commonKeys = []string{"id", "kind", "severity", "window", "kinds", "description"}
	kindKeys   = map[string][]string{
		Velocity:         {"entity", "max_events", "max_amount"},
		Sharing:          {"entity", "max_accounts"},
		NoRealPath:       {"min_gap"},
		ImpossibleTravel: {"max_speed_kmh", "min_km"},
		LocationSanity:   {"require_coordinates", "region"},
	}
	regionKeys = []string{"lat_min", "lat_max", "lon_min", "lon_max"}
)

var idRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// ParseRules reads and checks rules. An error names the rule (its id, or its position when it has
// none) and the key at fault: an unknown key or one its kind does not take, a missing or repeated id,
// an unknown kind, severity, entity or benefit kind, a window that is not a positive duration, a
// threshold that is missing, not a number or not positive, a region whose bounds are out of order.
func ParseRules(b []byte) (Rules, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("the file must be a mapping with a key rules")
	}
	top, err := mapping(doc.Content[0], []string{"rules"})
	if err != nil {
		return nil, err
	}
	list := top["rules"]
	if list == nil || list.Kind != yaml.SequenceNode || len(list.Content) == 0 {
		return nil, fmt.Errorf("rules: must be a list of at least one rule")
	}
	var rs Rules
	seen := map[string]bool{}
	for i, n := range list.Content {
		r, err := parseRule(n)
		if err != nil {
			name := fmt.Sprintf("rule %d", i+1)
			if r.ID != "" {
				name = fmt.Sprintf("rule %q", r.ID)
			}
			return nil, fmt.Errorf("%s (line %d): %w", name, n.Line, err)
		}
		if seen[r.ID] {
			return nil, fmt.Errorf("rule %q (line %d): id: defined twice", r.ID, n.Line)
		}
		seen[r.ID] = true
		rs = append(rs, r)
	}
	return rs, nil
}

// mapping returns a mapping node's values by key, refusing a key not in allowed.
func mapping(n *yaml.Node, allowed []string) (map[string]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("must be a mapping of keys to values")
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		if !slices.Contains(allowed, k) {
			return nil, fmt.Errorf("%s: unknown key (this takes %s)", k, strings.Join(allowed, ", "))
		}
		if out[k] != nil {
			return nil, fmt.Errorf("%s: given twice", k)
		}
		out[k] = n.Content[i+1]
	}
	return out, nil
}

// ruleReader decodes a rule's values, remembering the first error with its key.
type ruleReader struct {
	vals map[string]*yaml.Node
	err  error
}

func (r *ruleReader) fail(key, format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...))
	}
}

func (r *ruleReader) str(key string, required bool) string {
	n := r.vals[key]
	if n == nil {
		if required {
			r.fail(key, "is required")
		}
		return ""
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		r.fail(key, "must be a single value")
		return ""
	}
	return n.Value
}

func (r *ruleReader) oneOf(key string, required bool, values []string) string {
	v := r.str(key, required)
	if v != "" && !slices.Contains(values, v) {
		r.fail(key, "%q is not one of %s", v, strings.Join(values, ", "))
	}
	return v
}

func (r *ruleReader) duration(key string, required bool) time.Duration {
	v := r.str(key, required)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d%time.Millisecond != 0 {
		r.fail(key, "%q is not a positive duration of whole milliseconds such as 1s, 10m or 24h", v)
	}
	return d
}

func (r *ruleReader) decimal(key string, required bool) *decimal.Decimal {
	v := r.str(key, required)
	if v == "" {
		return nil
	}
	d, err := decimal.NewFromString(v)
	if err != nil {
		r.fail(key, "%q is not a decimal number", v)
		return nil
	}
	return &d
}

// positive reads a number that must be above zero.
func (r *ruleReader) positive(key string, required bool) float64 {
	d := r.decimal(key, required)
	if d == nil {
		return 0
	}
	if !d.IsPositive() {
		r.fail(key, "must be above 0")
	}
	return d.InexactFloat64()
}

func (r *ruleReader) count(key string, required bool) int {
	f := r.positive(key, required)
	if f != float64(int(f)) {
		r.fail(key, "must be a whole number")
	}
	return int(f)
}

func (r *ruleReader) kinds(key string) []string {
	n := r.vals[key]
	if n == nil {
		return nil
	}
	var ks []string
	if n.Kind != yaml.SequenceNode || n.Decode(&ks) != nil || len(ks) == 0 {
		r.fail(key, "must be a list of benefit kinds")
		return nil
	}
	for _, k := range ks {
		if !slices.Contains(Kinds, k) {
			r.fail(key, "%q is not one of %s", k, strings.Join(Kinds, ", "))
		}
	}
	return ks
}

func (r *ruleReader) region(key string) *Region {
	n := r.vals[key]
	if n == nil {
		return nil
	}
	vals, err := mapping(n, regionKeys)
	if err != nil {
		r.fail(key, "%v", err)
		return nil
	}
	sub := &ruleReader{vals: vals}
	get := func(k string) decimal.Decimal {
		if d := sub.decimal(k, true); d != nil {
			return *d
		}
		return decimal.Zero
	}
	reg := &Region{LatMin: get("lat_min"), LatMax: get("lat_max"), LonMin: get("lon_min"), LonMax: get("lon_max")}
	if sub.err == nil && (reg.LatMin.GreaterThan(reg.LatMax) || reg.LonMin.GreaterThan(reg.LonMax)) {
		sub.err = fmt.Errorf("a minimum is above its maximum")
	}
	if sub.err != nil {
		r.fail(key, "%v", sub.err)
	}
	return reg
}

// parseRule reads one rule; the rule's id is set as soon as it is read, for the error's sake.
func parseRule(n *yaml.Node) (Rule, error) {
	var ru Rule
	if n.Kind != yaml.MappingNode {
		return ru, fmt.Errorf("must be a mapping of keys to values")
	}
	for i := 0; i+1 < len(n.Content); i += 2 { // the id first, so that every later error names the rule
		if n.Content[i].Value == "id" {
			ru.ID = n.Content[i+1].Value
		}
	}
	var kind string
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "kind" {
			kind = n.Content[i+1].Value
		}
	}
	if !slices.Contains(RuleKinds, kind) {
		if kind == "" {
			return ru, fmt.Errorf("kind: is required (one of %s)", strings.Join(RuleKinds, ", "))
		}
		return ru, fmt.Errorf("kind: %q is not one of %s", kind, strings.Join(RuleKinds, ", "))
	}
	vals, err := mapping(n, append(slices.Clone(commonKeys), kindKeys[kind]...))
	if err != nil {
		return ru, fmt.Errorf("%w (a %s rule)", err, kind)
	}
	r := &ruleReader{vals: vals}
	ru.ID, ru.Kind = r.str("id", true), kind
	if r.err == nil && !idRE.MatchString(ru.ID) {
		r.fail("id", "%q must be lowercase letters, digits and _, starting with a letter", ru.ID)
	}
	ru.Severity = r.oneOf("severity", true, Severities)
	ru.Window = r.duration("window", true)
	ru.Kinds = r.kinds("kinds")
	ru.Description = r.str("description", false)
	switch kind {
	case Velocity:
		ru.Entity = r.oneOf("entity", false, []string{Account, Device, IP})
		if ru.Entity == "" {
			ru.Entity = Account
		}
		if vals["max_events"] != nil {
			ru.MaxEvents = r.count("max_events", true)
		}
		if vals["max_amount"] != nil {
			ru.MaxAmount = r.decimal("max_amount", true)
			if ru.MaxAmount != nil && ru.MaxAmount.IsNegative() {
				r.fail("max_amount", "must not be negative")
			}
		}
		if r.err == nil && ru.MaxEvents == 0 && ru.MaxAmount == nil {
			r.fail("max_events", "or max_amount is required")
		}
	case Sharing:
		ru.Entity = r.oneOf("entity", true, []string{Device, IP})
		ru.MaxAccounts = r.count("max_accounts", true)
	case NoRealPath:
		ru.Entity = Device
		ru.MinGap = r.duration("min_gap", false)
	case ImpossibleTravel:
		ru.Entity = Account
		ru.MaxSpeedKmh = r.positive("max_speed_kmh", true)
		if vals["min_km"] != nil {
			ru.MinKm = r.positive("min_km", true)
		}
	case LocationSanity:
		ru.Entity = Account
		ru.RequireCoordinates = r.kinds("require_coordinates")
		ru.Region = r.region("region")
	}
	return ru, r.err
}
