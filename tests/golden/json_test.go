package golden_test

import (
	"bytes"
	"encoding/json"
)

func jsonUnmarshalNumber(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}
