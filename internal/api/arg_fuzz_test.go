package api

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"
)

// FuzzArgUnmarshal checks how one job argument is read from any JSON text
// (FuzzArg starts from the string): a string is kept exactly as
// encoding/json reads it; a number becomes decimal text of the same value,
// an integer digit for digit; any other JSON value is ErrArgType.
func FuzzArgUnmarshal(f *testing.F) {
	for _, s := range []string{`"8"`, `10`, `-0`, `2.50`, `1e3`, `1E-7`, `12345678901234567890`, `1e400`, `-1e-400`,
		`"a\u0000b"`, `"\ud800"`, "\"\xff\"", `true`, `null`, `{}`, `[]`, `{"a":1,"a":2}`, ``, ` 7 `, `0x10`, `01`, `NaN`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var a Arg
		err := json.Unmarshal(data, &a)
		var v any
		isJSON := json.Unmarshal(data, &v) == nil
		if err != nil {
			// JSON that encoding/json reads into an any (not a number
			// out of float64's range) is refused only for its type.
			if isJSON && !errors.Is(err, ErrArgType) {
				t.Fatalf("%q: refused with %v, want ErrArgType", data, err)
			}
			return
		}
		if !isJSON {
			t.Fatalf("%q: not JSON, but read as %q", data, a)
		}
		switch v := v.(type) {
		case string:
			if string(a) != v {
				t.Fatalf("%q: string %q read as %q", data, v, a)
			}
		case float64:
			got, err := strconv.ParseFloat(string(a), 64)
			if err != nil || got != v {
				t.Fatalf("%q: number %v read as %q", data, v, a)
			}
			var num json.Number
			if err := json.Unmarshal(data, &num); err != nil {
				t.Fatal(err)
			}
			if isIntegerLiteral(string(num)) && string(a) != string(num) {
				t.Fatalf("%q: integer %s read as %q", data, num, a)
			}
		default:
			t.Fatalf("%q: a %T read as argument %q", data, v, a)
		}
	})
}
