package apidef_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
)

// fillValue sets every exported field reachable from v to a non-zero value: scalars to 1, "x"
// or true, slices and maps to one filled element, pointers to a filled value, and interfaces
// (meta_data values) to a decoded-JSON object holding a list. A field added to these types
// later is filled too, so the clone tests below cover it without being edited.
func fillValue(v reflect.Value, depth int) {
	if depth > maxFillDepth {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillValue(v.Field(i), depth+1)
			}
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fillValue(s.Index(0), depth+1)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k := reflect.New(v.Type().Key()).Elem()
		fillValue(k, depth+1)
		e := reflect.New(v.Type().Elem()).Elem()
		fillValue(e, depth+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fillValue(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Interface:
		v.Set(reflect.ValueOf(map[string]interface{}{"k": []interface{}{"v", map[string]interface{}{"n": 1.0}}}))
	}
}

// maxFillDepth bounds fillValue's recursion (a type reaching itself would never end); it is
// above the depth of the definition's deepest field (url_rewrites' trigger options' maps, 11),
// and unfilled checks that it stays so.
const maxFillDepth = 24

// unfilled returns the paths of the maps, slices, pointers and interface values under v that
// are nil or empty: after fillValue, none must be, or the clone tests would not cover them.
func unfilled(v reflect.Value, path string) []string {
	var out []string
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				out = append(out, unfilled(v.Field(i), path+"."+f.Name)...)
			}
		}
	case reflect.Slice, reflect.Map:
		if v.Len() == 0 {
			return []string{path}
		}
		if v.Kind() == reflect.Slice {
			for i := range v.Len() {
				out = append(out, unfilled(v.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
			}
		} else {
			for it := v.MapRange(); it.Next(); {
				out = append(out, unfilled(it.Value(), fmt.Sprintf("%s[%v]", path, it.Key()))...)
			}
		}
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return []string{path}
		}
		if v.Kind() == reflect.Pointer {
			out = append(out, unfilled(v.Elem(), path)...)
		}
	}
	return out
}

// shared returns the paths of the maps, slices and pointers that a and b (same type) share:
// a deep copy shares none, so changing one can never change the other.
func shared(a, b reflect.Value, path string) []string {
	if a.Kind() == reflect.Interface {
		if a.IsNil() || b.IsNil() {
			return nil
		}
		return shared(a.Elem(), b.Elem(), path)
	}
	var out []string
	switch a.Kind() {
	case reflect.Struct:
		for i := range a.NumField() {
			if f := a.Type().Field(i); f.IsExported() {
				out = append(out, shared(a.Field(i), b.Field(i), path+"."+f.Name)...)
			}
		}
	case reflect.Slice:
		if a.Len() > 0 && b.Len() > 0 && a.Pointer() == b.Pointer() {
			out = append(out, path)
		}
		for i := range min(a.Len(), b.Len()) {
			out = append(out, shared(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
		}
	case reflect.Map:
		if !a.IsNil() && !b.IsNil() && a.Pointer() == b.Pointer() {
			out = append(out, path)
		}
		for _, k := range a.MapKeys() {
			if bv := b.MapIndex(k); bv.IsValid() {
				out = append(out, shared(a.MapIndex(k), bv, fmt.Sprintf("%s[%v]", path, k))...)
			}
		}
	case reflect.Pointer:
		if !a.IsNil() && !b.IsNil() {
			if a.Pointer() == b.Pointer() {
				out = append(out, path)
			}
			out = append(out, shared(a.Elem(), b.Elem(), path)...)
		}
	}
	return out
}

// TestCloneCoversEveryField fills every field of a session (access rights, their URL specs
// and limits, meta data) by reflection, clones it, and checks that the clone is equal and shares
// no map, slice or pointer with the original. A field added later to SessionState,
// AccessDefinition, AccessSpec or APILimit that Clone drops or copies shallowly fails here.
func TestCloneCoversEveryField(t *testing.T) {
	var orig apidef.SessionState
	fillValue(reflect.ValueOf(&orig).Elem(), 0)
	if ar := orig.AccessRights["x"]; len(ar.AllowedURLs) != 1 || len(ar.AllowedURLs[0].Methods) != 1 || ar.Limit == nil {
		t.Fatalf("fillValue left parts of the session empty: %+v", orig)
	}
	if u := unfilled(reflect.ValueOf(orig), "SessionState"); len(u) > 0 {
		t.Fatalf("fillValue left these empty, so the test would not cover them: %q", u)
	}
	c := orig.Clone()
	if !reflect.DeepEqual(c, &orig) {
		t.Errorf("Clone() differs from the original:\n got %+v\nwant %+v", c, &orig)
	}
	if s := shared(reflect.ValueOf(&orig).Elem(), reflect.ValueOf(c).Elem(), "SessionState"); len(s) > 0 {
		t.Errorf("Clone() shares these with the original: %q", s)
	}

	var ar apidef.AccessDefinition
	fillValue(reflect.ValueOf(&ar).Elem(), 0)
	ac := ar.Clone()
	if !reflect.DeepEqual(ac, ar) {
		t.Errorf("AccessDefinition.Clone() differs from the original:\n got %+v\nwant %+v", ac, ar)
	}
	if s := shared(reflect.ValueOf(ar), reflect.ValueOf(ac), "AccessDefinition"); len(s) > 0 {
		t.Errorf("AccessDefinition.Clone() shares these with the original: %q", s)
	}
}

// TestSharedDetectsAliasing checks the checker itself: a shallow copy shares its references.
func TestSharedDetectsAliasing(t *testing.T) {
	var orig apidef.SessionState
	fillValue(reflect.ValueOf(&orig).Elem(), 0)
	shallow := orig
	got := shared(reflect.ValueOf(orig), reflect.ValueOf(shallow), "s")
	for _, want := range []string{"s.AccessRights", "s.ApplyPolicies", "s.MetaData", "s.Tags", "s.AccessRights[x].Limit", "s.AccessRights[x].AllowedURLs[0].Methods", "s.MetaData[x]", "s.MetaData[x][k]"} {
		found := false
		for _, g := range got {
			found = found || g == want
		}
		if !found {
			t.Errorf("shared(shallow copy) = %q, lacks %q", got, want)
		}
	}
}

// TestAPIDefinitionClone fills every field of a definition by reflection (its version data,
// endpoint lists, middleware and config_data included), clones it, and checks that the clone
// is equal and shares no map, slice or pointer with the original; and that a nil definition
// clones to nil.
func TestAPIDefinitionClone(t *testing.T) {
	var orig apidef.APIDefinition
	fillValue(reflect.ValueOf(&orig).Elem(), 0)
	if len(orig.VersionData.Versions) != 1 || len(orig.ConfigData) != 1 || len(orig.CustomMiddleware.Pre) != 1 {
		t.Fatalf("fillValue left parts of the definition empty: %+v", orig)
	}
	if u := unfilled(reflect.ValueOf(orig), "APIDefinition"); len(u) > 0 {
		t.Fatalf("fillValue left these empty, so the test would not cover them: %q", u)
	}
	c := orig.Clone()
	if !reflect.DeepEqual(c, &orig) {
		t.Errorf("Clone() differs from the original:\n got %+v\nwant %+v", c, &orig)
	}
	if s := shared(reflect.ValueOf(&orig).Elem(), reflect.ValueOf(c).Elem(), "APIDefinition"); len(s) > 0 {
		t.Errorf("Clone() shares these with the original: %q", s)
	}
	var nilDef *apidef.APIDefinition
	if nilDef.Clone() != nil {
		t.Error("a nil definition's Clone() is not nil")
	}
}

// TestAPIDefinitionCloneNil: nil maps, slices, pointers and interface values stay nil in the
// copy (a plugin telling "absent" from "empty" sees what the definition says).
func TestAPIDefinitionCloneNil(t *testing.T) {
	orig := apidef.APIDefinition{Name: "n", ConfigData: map[string]interface{}{"nil": nil, "empty": []interface{}{}}}
	c := orig.Clone()
	if !reflect.DeepEqual(c, &orig) {
		t.Errorf("Clone() = %+v, want %+v", c, &orig)
	}
	if c.Tags != nil || c.VersionData.Versions != nil || c.ConfigData["empty"] == nil {
		t.Errorf("Clone() changed nil or empty values: %+v", c)
	}
}
