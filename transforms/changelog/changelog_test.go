package changelog

import (
	"fmt"
	"strings"
	"testing"
)

func TestReadRejectsVersionsOutOfOrder(t *testing.T) {
	_, err := Read(strings.NewReader(`{"op":"upsert","k":"a","v":1,"version":2}
{"op":"upsert","k":"a","v":2,"version":2}`), "k")
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "version 2 of a key after its version 2") {
		t.Errorf("err = %v, want line 2's version out of order", err)
	}
	for _, bad := range []string{`{"op":"merge","k":"a","version":1}`, `{"op":"upsert","version":1}`, `{"op":"upsert","k":"a"}`, `not json`} {
		if _, err := Read(strings.NewReader(bad), "k"); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
}

// ReadNewest keeps the newest version per key, as a version-guarded sink does: an older or repeated
// version after a newer one changes nothing, in any order of the lines.
func TestReadNewestKeepsTheNewestVersion(t *testing.T) {
	lines := []string{
		`{"op":"upsert","k":"a","v":1,"version":1}`,
		`{"op":"upsert","k":"a","v":3,"version":3}`,
		`{"op":"upsert","k":"a","v":2,"version":2}`, // a replay of an older change
		`{"op":"upsert","k":"b","v":1,"version":5}`,
		`{"op":"delete","k":"b","version":6}`,
		`{"op":"upsert","k":"b","v":1,"version":5}`, // the upsert again after its delete
		`{"op":"upsert","k":"a","v":3,"version":3}`, // the same change twice
	}
	tab, err := ReadNewest(strings.NewReader(strings.Join(lines, "\n")), "k")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(tab.Objects("k", "v")); got != `map[["a"]:{"k":"a","v":3}]` || tab.Skipped() != 3 {
		t.Errorf("table %s, %d skipped; want only a=3, 3 skipped", got, tab.Skipped())
	}
	// The same, one line at a time, as a reader of a topic applies them.
	live := NewTable("k")
	var changed []bool
	for _, l := range lines {
		c, err := live.Apply([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		changed = append(changed, c)
	}
	if got := fmt.Sprint(live.Objects("k", "v"), changed); got != `map[["a"]:{"k":"a","v":3}] [true true false true true false false]` {
		t.Errorf("applied one at a time: %s", got)
	}
}

func TestKeysWithSeveralColumnsAndNulls(t *testing.T) {
	tab, err := Read(strings.NewReader(`{"op":"upsert","a":"x","d":null,"p":1,"version":1}
{"op":"upsert","a":"x","d":"","p":2,"version":1}
{"op":"upsert","a":"x","d":null,"p":3,"version":2}`), "a", "d")
	if err != nil {
		t.Fatal(err)
	}
	if tab.Len() != 2 {
		t.Fatalf("%d rows, want 2: null and \"\" are different keys", tab.Len())
	}
	if got := string(tab.Rows()[1]["p"]); got != "3" {
		t.Errorf("row (x, null) has p=%s, want 3", got)
	}
}

func ExampleRead() {
	lines := []string{
		string(must(Upsert("2024031010", 1, map[string]any{"biz_date": "2024031010", "policy_cnt": 1})).JSON()),
		string(must(Upsert("2024031012", 1, map[string]any{"biz_date": "2024031012", "policy_cnt": 1})).JSON()),
		string(must(Delete("2024031010", 2, map[string]any{"biz_date": "2024031010"})).JSON()),
	}
	fmt.Println(strings.Join(lines, "\n"))
	tab, _ := Read(strings.NewReader(strings.Join(lines, "\n")), "biz_date")
	for _, r := range tab.Rows() {
		fmt.Println("final:", string(r["biz_date"]), string(r["policy_cnt"]))
	}
	// Output:
	// {"op":"upsert","biz_date":"2024031010","policy_cnt":1,"version":1}
	// {"op":"upsert","biz_date":"2024031012","policy_cnt":1,"version":1}
	// {"op":"delete","biz_date":"2024031010","version":2}
	// final: "2024031012" 1
}

func must(c Change, err error) Change {
	if err != nil {
		panic(err)
	}
	return c
}

func TestParseIsTheInverseOfALine(t *testing.T) {
	c, err := Parse([]byte(`{"op":"delete","a":1,"b":null,"version":7}`), "a", "b")
	if err != nil || c.Op != OpDelete || c.Version != 7 || c.Key != `[1,null]` || string(c.Row) != `{"a":1,"b":null}` {
		t.Errorf("Parse = %+v (row %s), %v", c, c.Row, err)
	}
	for _, bad := range []string{`{"op":"merge","a":1,"version":1}`, `{"op":"upsert","a":1}`, `{"op":"upsert","version":1}`, `[1]`} {
		if _, err := Parse([]byte(bad), "a"); err == nil {
			t.Errorf("Parse(%s) accepted it", bad)
		}
	}
}

func TestSchemaValidateNamesTheFault(t *testing.T) {
	ok := Schema{Table: "t", Key: []string{"k"}, Columns: []Column{{Name: "k", Type: String}, {Name: "v", Type: Decimal, Scale: 2}}}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid schema: %v", err)
	}
	for want, s := range map[string]Schema{
		"no table name":        {Key: []string{"k"}, Columns: ok.Columns},
		`"v" has type "MONEY"`: {Table: "t", Key: []string{"k"}, Columns: []Column{{Name: "k", Type: String}, {Name: "v", Type: "MONEY"}}},
		`"k" twice`:            {Table: "t", Key: []string{"k"}, Columns: []Column{{Name: "k", Type: String}, {Name: "k", Type: String}}},
		"no key columns":       {Table: "t", Columns: ok.Columns},
		`"x" is not a column`:  {Table: "t", Key: []string{"x"}, Columns: ok.Columns},
	} {
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want %q", err, want)
		}
	}
}
