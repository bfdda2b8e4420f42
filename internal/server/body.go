//go:build linux

package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rw-project/rw/internal/api"
)

// decodeBody reads a JSON body of at most api.MaxBodyBytes into v. Every
// key must be spelled exactly as v's json tags spell it and given once, in
// nested objects too (checkKeys); trailing data is refused.
func decodeBody(w http.ResponseWriter, r *http.Request, c *caller, v any) error {
	rc := http.NewResponseController(w)
	// The whole request, headers and body, must arrive by the caller's
	// read deadline: a body that trickles in, or stops short of its
	// Content-Length, must not hold a connection.
	_ = rc.SetReadDeadline(c.readBy)
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, api.MaxBodyBytes))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The deadline stays passed, so that the server does not wait to
		// drain a body that may never come.
		w.Header().Set("Connection", "close")
		return &apiError{http.StatusRequestTimeout, api.CodeRequestTimeout, "the request body did not arrive in time: send it whole, at once"}
	}
	// The deadline must not outlive the body: the connection's background
	// read would otherwise end a long response when it fires.
	_ = rc.SetReadDeadline(time.Time{})
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return err
		}
		return &apiError{http.StatusBadRequest, api.CodeBadRequest, "reading the request body: " + err.Error()}
	}
	return decodeJSON(data, v)
}

// decodeJSON decodes a request body into v, a pointer to a request type.
// The errors are apiErrors, or api.ErrArgType for an argument of the wrong
// type.
func decodeJSON(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return &apiError{http.StatusBadRequest, api.CodeBadRequest, "empty request body: send a JSON object"}
	}
	if err := checkKeys(data, reflect.TypeOf(v)); err != nil {
		var ke *keyError
		if errors.As(err, &ke) {
			return &apiError{http.StatusBadRequest, api.CodeBadRequest, ke.Error()}
		}
		return &apiError{http.StatusBadRequest, api.CodeBadRequest, "malformed JSON body: " + err.Error()}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	// checkKeys has refused unknown keys already; this stays as a second
	// guard should the two ever disagree.
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, api.ErrArgType) {
			return err
		}
		return &apiError{http.StatusBadRequest, api.CodeBadRequest, "malformed JSON body: " + err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &apiError{http.StatusBadRequest, api.CodeBadRequest, "malformed JSON body: data after the object"}
	}
	return nil
}

// maxBodyDepth bounds how deep a body's objects and arrays may nest; rw's
// requests nest two levels at most.
const maxBodyDepth = 16

// keyError is a key that is not spelled as documented, or given twice.
type keyError struct {
	key     string // with the path of the objects it is in: limits.pids
	twice   bool
	meant   string // the documented spelling, if the key differs from it only in case
	allowed []string
}

func (e *keyError) Error() string {
	switch {
	case e.twice:
		return fmt.Sprintf("key %q is given twice: give each key once", e.key)
	case e.meant != "":
		return fmt.Sprintf("unknown key %q: keys are case-sensitive, use %q", e.key, e.meant)
	}
	return fmt.Sprintf("unknown key %q: the keys here are %s", e.key, strings.Join(e.allowed, ", "))
}

// checkKeys walks the JSON text data and refuses, with a *keyError, any key
// that t (the type the body decodes into) does not spell exactly, and any
// key given twice in one object. encoding/json matches keys without regard
// to case and lets the last of two win, so {"filePath": "add.exe",
// "FilePath": "sh.exe"} would run sh.exe: a proxy that looks at filePath
// would see another request than the server. Other errors are JSON syntax
// errors.
func checkKeys(data []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := walkValue(dec, t, "", 0); err != nil {
		return err
	}
	// Trailing data is for the decoder to refuse; the walk has seen the
	// one value it checks.
	return nil
}

// walkValue checks the next value of dec, which decodes into t (nil where
// any key goes: a map, an Unmarshaler, a value of the wrong type that the
// decoder will refuse).
func walkValue(dec *json.Decoder, t reflect.Type, path string, depth int) error {
	if depth > maxBodyDepth {
		return fmt.Errorf("objects and arrays nest deeper than %d levels", maxBodyDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		fields := jsonFields(t)
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := tok.(string)
			if seen[key] {
				return &keyError{key: path + key, twice: true}
			}
			seen[key] = true
			var ft reflect.Type
			if fields != nil {
				var ok bool
				if ft, ok = fields[key]; !ok {
					return unknownKey(path, key, fields)
				}
			}
			if err := walkValue(dec, ft, path+key+".", depth+1); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	case json.Delim('['):
		elem := elemType(t)
		for i := 0; dec.More(); i++ {
			if err := walkValue(dec, elem, fmt.Sprintf("%s[%d].", strings.TrimSuffix(path, "."), i), depth+1); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	}
	return nil
}

func unknownKey(path, key string, fields map[string]reflect.Type) error {
	e := &keyError{key: path + key}
	for name := range fields {
		if strings.EqualFold(name, key) {
			e.meant = path + name
		}
		e.allowed = append(e.allowed, name)
	}
	// Sorted, so that the message is the same every time.
	slices.Sort(e.allowed)
	return e
}

var unmarshaler = reflect.TypeFor[json.Unmarshaler]()

// fieldCache holds jsonFields' answer for each type: the request types
// are few and fixed, and a body is checked on every request.
var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// jsonFields returns the keys of the struct t decodes from, with the type
// each decodes into; nil when t is not a struct or decodes itself. The map
// is shared: callers only read it.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	f := structFields(t)
	fieldCache.Store(t, f)
	return f
}

func structFields(t reflect.Type) map[string]reflect.Type {
	t = deref(t)
	if t == nil || t.Kind() != reflect.Struct || reflect.PointerTo(t).Implements(unmarshaler) {
		return nil
	}
	fields := map[string]reflect.Type{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		// The request types embed no structs; an embedded one would need
		// its fields promoted here, as encoding/json does.
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		fields[name] = f.Type
	}
	return fields
}

// elemType is the type of the elements of the slice or array t; nil for
// any other t.
func elemType(t reflect.Type) reflect.Type {
	t = deref(t)
	if t == nil || (t.Kind() != reflect.Slice && t.Kind() != reflect.Array) || reflect.PointerTo(t).Implements(unmarshaler) {
		return nil
	}
	return t.Elem()
}

func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}
