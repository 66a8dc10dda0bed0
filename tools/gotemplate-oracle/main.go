// Command gotemplate-oracle runs Go's text/template over the cases in
// test/fixtures/gotemplate/cases.json and writes what Go produced to
// test/fixtures/gotemplate/expected.json; src/template/go/go-engine.test.ts compares
// certrender's Go-template engine against it byte for byte.
//
// Regenerate (from the repository root, no npm involved):
//
//	cd tools/gotemplate-oracle && go run . ../../test/fixtures/gotemplate
//
// Number rule: case data is decoded with plain json.Unmarshal (float64), then every
// integral float64 that fits in an int64 becomes an int. That is the engine's rule for
// JS numbers (integral values are Go ints, others float64), so both sides see the same
// Go types. consul-template itself decodes Vault data with json.Number.
//
// Functions: besides the builtins, the cases may call trivial stand-ins for
// consul-template functions (executeTemplate, trimSpace, base64Encode, toJSON, env);
// the test gives the engine the same ones. With "scratch": true the data gets key "s",
// an object with Set/Get methods like consul-template's scratch.
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/template"
)

type testCase struct {
	Name            string      `json:"name"`
	Template        string      `json:"template"`
	Data            interface{} `json:"data"`
	LeftDelim       string      `json:"leftDelim,omitempty"`
	RightDelim      string      `json:"rightDelim,omitempty"`
	MissingKeyError bool        `json:"missingKeyError,omitempty"`
	Scratch         bool        `json:"scratch,omitempty"`
}

type result struct {
	Name   string  `json:"name"`
	Output *string `json:"output,omitempty"`
	Error  string  `json:"error,omitempty"`
	Phase  string  `json:"phase,omitempty"`
}

// Scratch mirrors consul-template's scratch: Set returns "", Get returns the value.
type Scratch struct{ m map[string]interface{} }

func (s *Scratch) Set(k string, v interface{}) string { s.m[k] = v; return "" }
func (s *Scratch) Get(k string) interface{}           { return s.m[k] }

func normalize(v interface{}) interface{} {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<63 {
			return int(x)
		}
		return x
	case []interface{}:
		for i := range x {
			x[i] = normalize(x[i])
		}
	case map[string]interface{}:
		for k := range x {
			x[k] = normalize(x[k])
		}
	}
	return v
}

func run(c testCase) result {
	var t *template.Template
	funcs := template.FuncMap{
		"executeTemplate": func(name string, data ...interface{}) (string, error) {
			var dot interface{}
			switch len(data) {
			case 0:
			case 1:
				dot = data[0]
			default:
				return "", fmt.Errorf("executeTemplate: wrong number of arguments, expected 1 or 2, got %d", len(data)+1)
			}
			var b strings.Builder
			if err := t.ExecuteTemplate(&b, name, dot); err != nil {
				return "", err
			}
			return b.String(), nil
		},
		"trimSpace":    strings.TrimSpace,
		"base64Encode": func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
		"toJSON": func(v interface{}) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
		"env": func(k string) string {
			if k == "X" {
				return "y"
			}
			return ""
		},
	}
	t = template.New(c.Name).Funcs(funcs).Delims(c.LeftDelim, c.RightDelim)
	if c.MissingKeyError {
		t = t.Option("missingkey=error")
	}
	if _, err := t.Parse(c.Template); err != nil {
		return result{Name: c.Name, Error: err.Error(), Phase: "parse"}
	}
	data := normalize(c.Data)
	if c.Scratch {
		m, _ := data.(map[string]interface{})
		if m == nil {
			m = map[string]interface{}{}
		}
		m["s"] = &Scratch{m: map[string]interface{}{}}
		data = m
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return result{Name: c.Name, Error: err.Error(), Phase: "exec"}
	}
	out := b.String()
	return result{Name: c.Name, Output: &out}
}

func main() {
	dir := filepath.Join("..", "..", "test", "fixtures", "gotemplate")
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	raw, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var cases []testCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	results := make([]result, 0, len(cases))
	for _, c := range cases {
		results = append(results, run(c))
	}
	out, _ := json.MarshalIndent(results, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "expected.json"), append(out, '\n'), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%d cases -> %s\n", len(results), filepath.Join(dir, "expected.json"))
}
