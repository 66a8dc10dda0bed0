// Expected outputs of consul-template's `timestamp LAYOUT` on a fixed instant.
// consul-template formats time.Now().UTC() with time.Format; it cannot be given a
// fixed clock, so this applies time.Format to fixed UTC instants instead.
//
//	go run tools/functions-oracle/timestamp.go > test/fixtures/functions/timestamp.json
package main

import (
	"encoding/json"
	"os"
	"strconv"
	"time"
)

type result struct {
	Instant string `json:"instant"`
	Layout  string `json:"layout"`
	Output  string `json:"output"`
}

func main() {
	instants := []time.Time{
		time.Date(2024, time.February, 9, 7, 5, 3, 45006000, time.UTC),
		time.Date(1999, time.December, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2025, time.July, 4, 12, 0, 0, 0, time.UTC),
	}
	layouts := []string{
		"", "unix", time.RFC3339, time.RFC3339Nano, time.RFC1123, time.RFC1123Z, time.RFC822, time.RFC850,
		time.ANSIC, time.UnixDate, time.Kitchen, time.Stamp, time.StampMicro, time.DateTime,
		"2006-01-02", "20060102150405", "Jan _2 06 3:4:5 PM", "Monday January 2 2006 15h04",
		"002 __2", "05.000 05.999 05,000000 .999999999 .000", "-0700 -07:00 -07 Z0700 Z07:00 Z07 MST",
		"pm PM 03 3 1 01 Mon", "no layout here", "2006-13-32 month 1 0",
	}
	out := []result{}
	for _, t := range instants {
		for _, l := range layouts {
			var s string
			switch l {
			case "":
				s = t.Format(time.RFC3339)
			case "unix":
				s = strconv.FormatInt(t.Unix(), 10)
			default:
				s = t.Format(l)
			}
			out = append(out, result{t.Format(time.RFC3339Nano), l, s})
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		panic(err)
	}
}
