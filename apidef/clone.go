package apidef

import (
	"reflect"
	"sync"
)

// Clone returns a deep copy of the definition: changing the copy's maps, slices and pointers,
// config_data at any depth included, changes nothing in a. It copies by reflection, field by
// field, so a field added to the definition's types later is copied too; it is several times
// cheaper than encoding and decoding the definition (sdk.GetDefinition calls it per call).
func (a *APIDefinition) Clone() *APIDefinition {
	if a == nil {
		return nil
	}
	c := new(APIDefinition)
	deepCopy(reflect.ValueOf(c).Elem(), reflect.ValueOf(a).Elem())
	return c
}

// deepCopy sets dst (settable, of src's type) to a deep copy of src: maps, slices, pointers and
// interface values are copied at every depth; strings and other values without references are
// shared. Unexported struct fields are copied shallowly (the definition's types have none).
func deepCopy(dst, src reflect.Value) {
	if c := copierOf(src.Type()); c != nil {
		c(dst, src)
		return
	}
	dst.Set(src)
}

// A copier sets dst to a deep copy of src, both of the type it was made for. Copiers are made
// once per type (the definition's struct types have hundreds of fields: working out which
// need copying on every call would cost more than the copying).
type copier func(dst, src reflect.Value)

// copiers caches copierOf by type: a *copierBox, whose fn is nil for a type without
// references (= copies it whole).
var copiers sync.Map // reflect.Type -> *copierBox

type copierBox struct {
	once sync.Once
	fn   copier
}

// copierOf returns the copier of t, nil when copying a t with = shares nothing.
func copierOf(t reflect.Type) copier {
	if b, ok := copiers.Load(t); ok {
		b := b.(*copierBox)
		b.once.Do(func() { b.fn = makeCopier(t) })
		return b.fn
	}
	b, _ := copiers.LoadOrStore(t, &copierBox{})
	box := b.(*copierBox)
	box.once.Do(func() { box.fn = makeCopier(t) })
	return box.fn
}

func makeCopier(t reflect.Type) copier {
	if !hasRefs(t) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		type field struct {
			i int
			c copier
		}
		var fields []field
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && hasRefs(f.Type) {
				fields = append(fields, field{i: i, c: lazyCopier(f.Type)})
			}
		}
		return func(dst, src reflect.Value) {
			dst.Set(src)
			for _, f := range fields {
				f.c(dst.Field(f.i), src.Field(f.i))
			}
		}
	case reflect.Array:
		elem := lazyCopier(t.Elem())
		return func(dst, src reflect.Value) {
			for i := range src.Len() {
				elem(dst.Index(i), src.Index(i))
			}
		}
	case reflect.Slice:
		elem := elemCopier(t)
		return nilOr(func(dst, src reflect.Value) {
			s := reflect.MakeSlice(t, src.Len(), src.Len())
			if elem == nil {
				reflect.Copy(s, src)
			} else {
				for i := range src.Len() {
					elem(s.Index(i), src.Index(i))
				}
			}
			dst.Set(s)
		})
	case reflect.Map:
		elem := elemCopier(t)
		return nilOr(func(dst, src reflect.Value) {
			m := reflect.MakeMapWithSize(t, src.Len())
			var v reflect.Value
			if elem != nil {
				v = reflect.New(t.Elem()).Elem()
			}
			for it := src.MapRange(); it.Next(); {
				if elem == nil {
					m.SetMapIndex(it.Key(), it.Value())
					continue
				}
				elem(v, it.Value())
				m.SetMapIndex(it.Key(), v) // SetMapIndex copies v: it can be reused
			}
			dst.Set(m)
		})
	case reflect.Pointer:
		elem := lazyCopier(t.Elem())
		return nilOr(func(dst, src reflect.Value) {
			p := reflect.New(t.Elem())
			elem(p.Elem(), src.Elem())
			dst.Set(p)
		})
	case reflect.Interface:
		return nilOr(func(dst, src reflect.Value) {
			e := src.Elem()
			if copierOf(e.Type()) == nil {
				dst.Set(e) // a string or number (config_data's values): nothing to copy
				return
			}
			c := reflect.New(e.Type()).Elem()
			deepCopy(c, e)
			dst.Set(c)
		})
	}
	return nil // chan, func, unsafe pointer: shared
}

// elemCopier returns the copier of the elements of t (a slice or map type), nil when copying
// them with = shares nothing.
func elemCopier(t reflect.Type) copier {
	if !hasRefs(t.Elem()) {
		return nil
	}
	return lazyCopier(t.Elem())
}

// nilOr returns a copier of a map, slice, pointer or interface type that sets dst to nil when
// src is nil, and copies src with c otherwise.
func nilOr(c copier) copier {
	return func(dst, src reflect.Value) {
		if src.IsNil() {
			dst.SetZero()
			return
		}
		c(dst, src)
	}
}

// lazyCopier returns a copier of t that looks t's copier up when first called, so that a type
// reaching itself (through a pointer or slice) does not make its copier while making it.
func lazyCopier(t reflect.Type) copier {
	var c copier
	var once sync.Once
	return func(dst, src reflect.Value) {
		once.Do(func() { c = copierOf(t) })
		if c == nil {
			dst.Set(src)
			return
		}
		c(dst, src)
	}
}

// refTypes caches hasRefs by type.
var refTypes sync.Map // reflect.Type -> bool

// hasRefs reports whether a value of type t can hold a map, slice, pointer or interface
// value, that is whether copying it with = shares anything that deepCopy must copy.
func hasRefs(t reflect.Type) bool {
	if v, ok := refTypes.Load(t); ok {
		return v.(bool)
	}
	r := computeRefs(t, map[reflect.Type]bool{})
	refTypes.Store(t, r)
	return r
}

func computeRefs(t reflect.Type, seen map[reflect.Type]bool) bool {
	switch t.Kind() {
	case reflect.Map, reflect.Slice, reflect.Pointer, reflect.Interface:
		return true
	case reflect.Array:
		return t.Len() > 0 && computeRefs(t.Elem(), seen)
	case reflect.Struct:
		if seen[t] {
			return false // a cycle through t: t's own answer comes from its other fields
		}
		seen[t] = true
		for i := range t.NumField() {
			if t.Field(i).IsExported() && computeRefs(t.Field(i).Type, seen) {
				return true
			}
		}
	}
	return false
}
