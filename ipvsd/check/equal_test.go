package check

import (
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestDefinitionEqual: two definitions that differ in any one field, of
// those package check has now or adds later, are not the same.
func TestDefinitionEqual(t *testing.T) {
	base := Definition{Kind: KindHTTP, Target: netip.MustParseAddrPort("10.0.0.1:80"),
		HTTP: HTTPCheck{Status: []StatusRange{{Min: 200, Max: 200}}}, UDP: UDPCheck{Send: []byte{1}},
		Exec: ExecCheck{Command: []string{"/bin/true"}}}
	if c := base; !base.Equal(&c) {
		t.Fatal("a copy is not the same")
	}
	var walk func(v reflect.Value, name string)
	walk = func(v reflect.Value, name string) {
		switch v.Interface().(type) {
		case netip.Addr, netip.AddrPort:
		default:
			if v.Kind() == reflect.Struct {
				for i := range v.NumField() {
					walk(v.Field(i), name+"."+v.Type().Field(i).Name)
				}
				return
			}
		}
		d := base
		d.HTTP.Status, d.UDP.Send, d.Exec.Command = slices.Clone(base.HTTP.Status), slices.Clone(base.UDP.Send), slices.Clone(base.Exec.Command)
		f := reflect.ValueOf(&d).Elem().FieldByIndex(fieldIndex(t, reflect.TypeOf(d), name))
		switch f.Interface().(type) {
		case netip.Addr:
			f.Set(reflect.ValueOf(netip.MustParseAddr("10.9.9.9")))
		case netip.AddrPort:
			f.Set(reflect.ValueOf(netip.MustParseAddrPort("10.9.9.9:9")))
		default:
			switch f.Kind() {
			case reflect.String:
				f.SetString(f.String() + "x")
			case reflect.Bool:
				f.SetBool(!f.Bool())
			case reflect.Int, reflect.Int64:
				f.SetInt(f.Int() + 1)
			case reflect.Uint32:
				f.SetUint(f.Uint() + 1)
			case reflect.Slice:
				f.Set(reflect.Append(f, reflect.Zero(f.Type().Elem())))
			default:
				t.Fatalf("%s: a field of kind %s: teach this test to change it", name, f.Kind())
			}
		}
		if base.Equal(&d) {
			t.Errorf("definitions that differ in %s are Equal", name)
		}
	}
	walk(reflect.ValueOf(base), "")
}

// fieldIndex returns the index path of the field ".A.B" of type t.
func fieldIndex(t *testing.T, typ reflect.Type, name string) []int {
	var idx []int
	for _, part := range strings.Split(strings.TrimPrefix(name, "."), ".") {
		f, ok := typ.FieldByName(part)
		if !ok {
			t.Fatalf("no field %s", name)
		}
		idx = append(idx, f.Index...)
		typ = f.Type
	}
	return idx
}
