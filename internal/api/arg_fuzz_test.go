package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
)

// FuzzArgUnmarshal checks how one job argument is read from any JSON text
// (FuzzArg starts from the string): a string is kept exactly as
// encoding/json reads it; a number becomes decimal text of the same value,
// an integer digit for digit however long; any other JSON value is
// ErrArgType.
func FuzzArgUnmarshal(f *testing.F) {
	for _, s := range []string{`"8"`, `10`, `-0`, `2.50`, `1e3`, `1E-7`, `12345678901234567890`, `1e400`, `-1e-400`,
		`"a\u0000b"`, `"\ud800"`, "\"\xff\"", `true`, `null`, `{}`, `[]`, `{"a":1,"a":2}`, ``, ` 7 `, `0x10`, `01`, `NaN`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var a Arg
		err := json.Unmarshal(data, &a)
		if !json.Valid(data) {
			if err == nil {
				t.Fatalf("%q: not JSON, but read as %q", data, a)
			}
			return
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		switch v := v.(type) {
		case string:
			if err != nil || string(a) != v {
				t.Fatalf("%q: string %q read as %q, %v", data, v, a, err)
			}
		case json.Number:
			if isIntegerLiteral(string(v)) {
				if err != nil || string(a) != string(v) {
					t.Fatalf("%q: integer %s read as %q, %v", data, v, a, err)
				}
				return
			}
			want, ferr := strconv.ParseFloat(string(v), 64)
			if ferr != nil {
				// Out of float64's range: refused, with a word to pass
				// it as a string.
				if err == nil {
					t.Fatalf("%q: out of range, but read as %q", data, a)
				}
				return
			}
			got, perr := strconv.ParseFloat(string(a), 64)
			if err != nil || perr != nil || got != want {
				t.Fatalf("%q: number %s read as %q, %v", data, v, a, err)
			}
		default:
			if !errors.Is(err, ErrArgType) {
				t.Fatalf("%q: a %T read as %q, %v; want ErrArgType", data, v, a, err)
			}
		}
	})
}
