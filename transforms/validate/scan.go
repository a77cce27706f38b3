package validate

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// A field of a scanned object: its name and the JSON text of its value, both slices of the line
// unless the name has escapes.
type field struct {
	name string
	val  string
}

// maxDepth is how deep objects and arrays may nest, as in encoding/json.
const maxDepth = 10000

// scanObject checks that b is exactly one JSON object (surrounding white space allowed) and
// returns its top-level fields in order. It accepts what json.Unmarshal accepts, in one pass and
// without building values: nested objects and arrays are checked, not decoded.
func scanObject(b string) ([]field, bool) {
	s := scanner{b: b}
	s.space()
	fields, ok := s.object(0, true)
	if !ok {
		return nil, false
	}
	s.space()
	return fields, s.i == len(b)
}

type scanner struct {
	b string
	i int
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// object scans an object at s.i; with keep it returns the fields.
func (s *scanner) object(depth int, keep bool) ([]field, bool) {
	if depth >= maxDepth || s.i >= len(s.b) || s.b[s.i] != '{' {
		return nil, false
	}
	s.i++
	var fields []field
	if keep {
		fields = make([]field, 0, 16)
	}
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return fields, true
	}
	for {
		s.space()
		start := s.i
		if !s.string() {
			return nil, false
		}
		name := s.b[start:s.i]
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return nil, false
		}
		s.i++
		s.space()
		vstart := s.i
		if !s.value(depth + 1) {
			return nil, false
		}
		if keep {
			n, ok := unquote(name)
			if !ok {
				return nil, false
			}
			fields = append(fields, field{name: n, val: s.b[vstart:s.i]})
		}
		s.space()
		if s.i >= len(s.b) {
			return nil, false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return fields, true
		default:
			return nil, false
		}
	}
}

func (s *scanner) array(depth int) bool {
	if depth >= maxDepth {
		return false
	}
	s.i++ // '['
	s.space()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return true
	}
	for {
		s.space()
		if !s.value(depth + 1) {
			return false
		}
		s.space()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}

func (s *scanner) value(depth int) bool {
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		return s.string()
	case c == '{':
		_, ok := s.object(depth, false)
		return ok
	case c == '[':
		return s.array(depth)
	case c == '-' || c >= '0' && c <= '9':
		n := numberLen(s.b[s.i:])
		s.i += n
		return n > 0
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if strings.HasPrefix(s.b[s.i:], lit) {
				s.i += len(lit)
				return true
			}
		}
		return false
	}
}

// string scans a string literal at s.i: no control characters, only JSON's escapes.
func (s *scanner) string() bool {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return false
	}
	for i := s.i + 1; i < len(s.b); i++ {
		switch c := s.b[i]; {
		case c == '"':
			s.i = i + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			i++
			if i >= len(s.b) {
				return false
			}
			switch s.b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(s.b) {
					return false
				}
				for j := i + 1; j < i+5; j++ {
					if !isHex(s.b[j]) {
						return false
					}
				}
				i += 4
			default:
				return false
			}
		}
	}
	return false
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// numberLen is the length of the JSON number at the start of b (-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?),
// 0 when there is none.
func numberLen(b string) int {
	i := intLen(b)
	if i == 0 {
		return 0
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return 0
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return 0
		}
		i = j
	}
	return i
}

// digits returns the index of the first non-digit of b at or after i.
func digits(b string, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// intLen is the length of the JSON integer at the start of b (-?(0|[1-9]\d*)), 0 when there is none.
func intLen(b string) int {
	i := 0
	if len(b) > 0 && b[0] == '-' {
		i = 1
	}
	switch {
	case i < len(b) && b[i] == '0':
		return i + 1
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		return digits(b, i+1)
	}
	return 0
}

// isInt reports whether b is a JSON integer literal: -?(0|[1-9]\d*).
func isInt(b string) bool { return len(b) > 0 && intLen(b) == len(b) }

// isPlainDecimal reports whether s is -?\d+(\.\d+)?: the decimals a string field may hold.
func isPlainDecimal(b string) bool {
	i := 0
	if len(b) > 0 && b[0] == '-' {
		i = 1
	}
	j := digits(b, i)
	if j == i {
		return false
	}
	if j < len(b) && b[j] == '.' {
		k := digits(b, j+1)
		if k == j+1 {
			return false
		}
		j = k
	}
	return j == len(b)
}

// unquote decodes a scanned string literal as json.Unmarshal does (invalid UTF-8 becomes U+FFFD);
// the common case, no escapes and valid UTF-8, is a slice of lit.
func unquote(lit string) (string, bool) {
	body := lit[1 : len(lit)-1]
	if strings.IndexByte(body, '\\') < 0 && utf8.ValidString(body) {
		return body, true
	}
	var s string
	err := json.Unmarshal([]byte(lit), &s)
	return s, err == nil
}
