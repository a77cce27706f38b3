package variablepool_test

import (
	"strings"
	"testing"

	"github.com/finbeam/finbeam/pipelines/variablepool"
)

// The starter set parses and holds the variables the issue lists.
func TestDefaultVariables(t *testing.T) {
	vs := variablepool.DefaultVariables()
	want := []string{"applications_1h", "applications_24h", "application_amount_7d", "distinct_devices_24h", "distinct_ips_7d",
		"failed_logins_1h", "overdue_repayments_30d", "days_since_first_seen", "last_application_time"}
	if got := strings.Join(vs.Names(), ","); got != strings.Join(want, ",") {
		t.Errorf("names %s, want %s", got, strings.Join(want, ","))
	}
	v := vs.Variables[0]
	if v.WindowMs != 3_600_000 || v.BucketMs != 60_000 {
		t.Errorf("applications_1h: window %d ms in buckets of %d ms, want 3600000 and 60000", v.WindowMs, v.BucketMs)
	}
	if m, ok := vs.Monitoring(vs.Variables[8]); ok || m.PSIAlert != 0.25 {
		t.Errorf("last_application_time: monitored %v with %+v, want not monitored", ok, m)
	}
	if m, ok := vs.Monitoring(vs.Variables[0]); !ok || m.PSIWarn != 0.1 || m.PSIAlert != 0.25 {
		t.Errorf("applications_1h: monitored %v with %+v, want the defaults", ok, m)
	}
}

// Mistakes in the file are errors that name the variable and what is wrong.
func TestVariableErrors(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{`variables: []`, "no variable defined"},
		{`variables: [{name: a, source: login, aggregation: count, window: 1h, colour: red}]`, "field colour not found"},
		{`variables: [{name: "a b", source: login, aggregation: count, window: 1h}]`, `variable 1: name "a b" must be letters, digits and _`},
		{`variables: [{name: a, source: login, aggregation: count, window: 1h}, {name: a, source: login, aggregation: count, window: 2h}]`, `variable "a" is defined twice`},
		{`variables: [{name: a, source: logins, aggregation: count, window: 1h}]`, `variable "a": source "logins" is not one of loan_application, login, repayment or any`},
		{`variables: [{name: a, source: login, aggregation: median, field: ts, window: 1h}]`, `variable "a": aggregation "median" is not one of`},
		{`variables: [{name: a, source: login, aggregation: sum, window: 1h}]`, `variable "a": aggregation sum needs a field`},
		{`variables: [{name: a, source: login, aggregation: count, field: ip, window: 1h}]`, `variable "a": aggregation count takes no field (field "ip")`},
		{`variables: [{name: a, source: login, aggregation: sum, field: amount, window: 1h}]`, `variable "a": field "amount" is not a field of login (device_id, ip, success, ts, user_id)`},
		{`variables: [{name: a, source: login, aggregation: avg, field: ip, window: 1h}]`, `variable "a": aggregation avg needs a numeric field; "ip" is a string`},
		{`variables: [{name: a, source: login, aggregation: count, window: 1 hour}]`, `variable "a": window "1 hour" is not a positive duration`},
		{`variables: [{name: a, source: login, aggregation: count, window: -1h}]`, `variable "a": window "-1h" is not a positive duration`},
		{`variables: [{name: a, source: login, aggregation: count, window: 1h, buckets: 7}]`, `variable "a": window 1h does not divide into 7 buckets`},
		{`variables: [{name: a, source: login, aggregation: count, window: lifetime, buckets: 7}]`, `variable "a": buckets: a lifetime window keeps no buckets`},
		{`variables: [{name: a, source: any, aggregation: first_seen_age, window: 7d}]`, `variable "a": first_seen_age takes window: lifetime`},
		{`variables: [{name: a, source: any, aggregation: first_seen_age, window: lifetime, unit: w}]`, `variable "a": unit "w" is not s, m, h or d`},
		{`variables: [{name: a, source: any, aggregation: sum, field: amount, window: 1h}]`, `variable "a": source "any" takes count or first_seen_age only`},
		{`variables: [{name: a, source: login, aggregation: count, window: 1h, filter: {succes: false}}]`, `variable "a": filter: field "succes" is not a field of login`},
		{`variables: [{name: a, source: login, aggregation: count, window: 1h, filter: {success: "no"}}]`, `variable "a": filter: field "success" is a boolean; no is not`},
		{`variables: [{name: a, source: login, aggregation: count, window: 1h, monitor: {psi_warn: 0.3, psi_alert: 0.2}}]`, `variable "a": monitor: psi_warn 0.3 is above psi_alert 0.2`},
	} {
		_, err := variablepool.ParseVariables([]byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.yaml, err, c.want)
		}
	}
}

// Bad lines are rejected with the field at fault; empty strings are null; overdue is derived.
func TestParse(t *testing.T) {
	for _, c := range []struct{ source, line, want string }{
		{variablepool.LoanApplication, `{"user_id": "u", "app_id": "a", "amount": "-1", "ts": 1}`, `invalid_value: field "amount" must not be negative`},
		{variablepool.LoanApplication, `{"user_id": "u", "app_id": "a", "amount": 10, "ts": "x"}`, `wrong_type: field "ts" must be a JSON integer`},
		{variablepool.LoanApplication, `{"user_id": "", "app_id": "a", "amount": 10, "ts": 1}`, `invalid_value: field "user_id" must not be empty`},
		{variablepool.Login, `{"user_id": "u", "success": "yes", "ts": 1}`, `wrong_type: field "success" must be a JSON boolean`},
		{variablepool.Repayment, `{"user_id": "u", "loan_id": "l", "amount": 1, "ts": 1}`, `missing_field: field "due_ts" is required`},
	} {
		if _, err := variablepool.Parse(c.source, c.line); err == nil || err.Error() != c.want {
			t.Errorf("%s %s: error %v, want %s", c.source, c.line, err, c.want)
		}
	}
	e, err := variablepool.Parse(variablepool.LoanApplication, `{"user_id": "u", "app_id": "a", "amount": "12.50", "device_id": " ", "ts": 5}`)
	if err != nil || e.DeviceID != nil || e.Amount != "12.5" || e.IP != nil {
		t.Errorf("application: %+v, %v; want a null device and ip and amount 12.5", e, err)
	}
	for line, want := range map[string]bool{
		`{"user_id": "u", "loan_id": "l", "amount": 1, "due_ts": 10, "paid_ts": 10, "ts": 20}`:   false, // paid on the due time
		`{"user_id": "u", "loan_id": "l", "amount": 1, "due_ts": 10, "paid_ts": 11, "ts": 11}`:   true,  // paid late
		`{"user_id": "u", "loan_id": "l", "amount": 1, "due_ts": 10, "paid_ts": null, "ts": 10}`: false, // not yet due
		`{"user_id": "u", "loan_id": "l", "amount": 1, "due_ts": 10, "ts": 11}`:                  true,  // due and not paid
	} {
		if e, err := variablepool.Parse(variablepool.Repayment, line); err != nil || e.Overdue != want {
			t.Errorf("%s: overdue %v (%v), want %v", line, e.Overdue, err, want)
		}
	}
}
