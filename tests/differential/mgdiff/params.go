package main

// The machine-readable sample parameters (runtime-params.json).
//
// Values are JSON; they become the Go values Grafana would bind:
//
//	"text"                      string   ("{client}" is replaced by pq/px/ps/pb, so each
//	                                      client writes its own rows: unique keys never collide)
//	123                         int64
//	1.5                         float64
//	true / false                bool
//	null                        nil
//	{"time": "RFC 3339"}        time.Time (raw time.Time: lib/pq sends
//	                            2006-01-02 15:04:05.999999999Z07:00, pgx binary)
//	{"bytes": "text"}           []byte of the text
//	{"hex": "deadbeef"}         []byte from hex
//	{"by_client": [a, b, c, d]} one value per client (libpq, pgx, pgx-simple, libpq-binparams), e.g. distinct
//	                            integer keys so that each client's insert is unique

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

type ParamsFile struct {
	Comment    interface{}           `json:"_comment,omitempty"`
	Groups     map[string]*GroupOpts `json:"groups"`
	Statements map[string]*StmtOpts  `json:"statements"`
}

type GroupOpts struct {
	Tx   bool   `json:"tx"`   // run the group, per client, inside one transaction
	Note string `json:"note"` // why
}

type StmtOpts struct {
	Args      []json.RawMessage   `json:"args"`
	ParamSets [][]json.RawMessage `json:"param_sets"` // run once per set
	Prepare   bool                `json:"prepare"`    // lib/pq: db.Prepare (named statement) + Exec per set
	Skip      string              `json:"skip"`       // reason it is not run standalone
	Unordered bool                `json:"unordered"`  // compare rows as a multiset despite ORDER BY
	Ordered   bool                `json:"ordered"`    // compare row order although there is no top-level ORDER BY
	Volatile  []int               `json:"volatile"`   // result column indexes not compared (server clock)
	Clients   []string            `json:"clients"`    // restrict to these clients
	Note      string              `json:"note"`
}

func LoadParams(path string) (*ParamsFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var pf ParamsFile
	if err := dec.Decode(&pf); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if pf.Groups == nil {
		pf.Groups = map[string]*GroupOpts{}
	}
	if pf.Statements == nil {
		pf.Statements = map[string]*StmtOpts{}
	}
	return &pf, nil
}

// ArgSets returns the argument lists for one client.
func (o *StmtOpts) ArgSets(clientTag string) ([][]interface{}, error) {
	if o == nil {
		return [][]interface{}{nil}, nil
	}
	raw := o.ParamSets
	if raw == nil {
		raw = [][]json.RawMessage{o.Args}
	}
	var out [][]interface{}
	for _, set := range raw {
		var args []interface{}
		for _, r := range set {
			v, err := decodeParam(r, clientTag)
			if err != nil {
				return nil, err
			}
			args = append(args, v)
		}
		out = append(out, args)
	}
	return out, nil
}

func decodeParam(r json.RawMessage, clientTag string) (interface{}, error) {
	dec := json.NewDecoder(bytes.NewReader(r))
	dec.UseNumber()
	var v interface{}
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case bool:
		return x, nil
	case string:
		return strings.ReplaceAll(x, "{client}", clientTag), nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		return x.Float64()
	case map[string]interface{}:
		if t, ok := x["time"].(string); ok {
			return time.Parse(time.RFC3339Nano, t)
		}
		if b, ok := x["bytes"].(string); ok {
			return []byte(strings.ReplaceAll(b, "{client}", clientTag)), nil
		}
		if h, ok := x["hex"].(string); ok {
			return hex.DecodeString(h)
		}
		if l, ok := x["by_client"].([]interface{}); ok {
			i := clientIndex(clientTag)
			if i >= len(l) {
				return nil, fmt.Errorf("by_client has no value for client %s", clientTag)
			}
			b, _ := json.Marshal(l[i])
			return decodeParam(b, clientTag)
		}
	}
	return nil, fmt.Errorf("unsupported parameter value %s", string(r))
}

func clientIndex(tag string) int {
	for i, n := range ClientNames {
		if ClientTag(n) == tag {
			return i
		}
	}
	return 0
}
