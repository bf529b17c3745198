package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// jsonEvents reads a JSON document token by token, as events, so that no
// tree of it is ever built.
type jsonEvents struct {
	data []byte
	dec  *json.Decoder
	// Where the last token began, the line there and where that line
	// began; lines are counted as the tokens go.
	off, line, lineStart int
}

func newJSONEvents(data []byte) *jsonEvents {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return &jsonEvents{data: data, dec: dec, line: 1}
}

// at moves the position to the token that begins at or after offset.
func (j *jsonEvents) at(offset int) {
	for offset < len(j.data) && bytes.IndexByte([]byte(" \t\r\n,:"), j.data[offset]) >= 0 {
		offset++
	}
	for i := j.off; i < offset && i < len(j.data); i++ {
		if j.data[i] == '\n' {
			j.line, j.lineStart = j.line+1, i+1
		}
	}
	j.off = offset
}

func (j *jsonEvents) next() (event, error) {
	j.at(int(j.dec.InputOffset()))
	e := event{line: j.line, col: j.off - j.lineStart + 1}
	tok, err := j.dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return e, &DecodeError{Line: e.line, Column: e.col, Msg: fmt.Sprintf("not JSON: %v", err)}
	}
	switch v := tok.(type) {
	case json.Delim:
		e.kind = map[json.Delim]evKind{'{': evMap, '[': evSeq, '}': evEnd, ']': evEnd}[v]
	case string:
		e.tag, e.value = "!!str", v
	case json.Number:
		e.tag, e.value = "!!float", v.String()
		if !strings.ContainsAny(e.value, ".eE") {
			e.tag = "!!int"
		}
	case bool:
		e.tag, e.value = "!!bool", strconv.FormatBool(v)
	case nil:
		e.tag, e.value = "!!null", "null"
	}
	return e, nil
}

func (j *jsonEvents) end() error {
	j.at(int(j.dec.InputOffset()))
	if _, err := j.dec.Token(); !errors.Is(err, io.EOF) {
		return &DecodeError{Line: j.line, Column: j.off - j.lineStart + 1, Msg: "a second document: a table file holds one"}
	}
	return nil
}
