// Package privacy holds the test that no secret and no personal datum reaches a log line or an error:
// it runs finbeam's commands, built, with passwords and tokens in the environment and in files and
// personal data (phone numbers, certificate numbers, names, coordinates, IP addresses) planted in
// their input, through good runs and failures (bad lines, a wrong password, a database and a broker
// that do not answer, a bad token file, an overloaded query service), captures everything they print
// and asserts that none of those strings is in it.
//
// What they write as data is not checked: dead-letter files keep the raw line (that is their job),
// sinks the rows, and varserve's query log (an audit log) the user ids asked for. The commands that
// handle no input data (bench, broker, flink, fuzz, mariadb) are not run.
package privacy
