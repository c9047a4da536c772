package transform

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// maxXMLDepth bounds element nesting in an XML body.
const maxXMLDepth = 256

// decodeXML maps an XML document as Tyk's mxj library does by default: the root element is the
// one key of the map; an element with only text is its text (a string); an element with
// attributes or children is a map, attributes under "-name" and text under "#text"; repeated
// child elements make a list. Names are the local names (no namespace prefix). Values stay
// strings.
func decodeXML(body []byte) (map[string]any, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil, errors.New("no root element")
		}
		if err != nil {
			return nil, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			v, err := xmlElement(d, se, 1)
			if err != nil {
				return nil, err
			}
			// Anything but space, comments and processing instructions after the root is an
			// error, as a second root would be.
			for {
				tok, err := d.Token()
				if err == io.EOF {
					return map[string]any{se.Name.Local: v}, nil
				}
				if err != nil {
					return nil, err
				}
				switch x := tok.(type) {
				case xml.StartElement:
					return nil, errors.New("more than one root element")
				case xml.CharData:
					if len(bytes.TrimSpace(x)) > 0 {
						return nil, errors.New("text after the root element")
					}
				}
			}
		}
	}
}

func xmlElement(d *xml.Decoder, se xml.StartElement, depth int) (any, error) {
	if depth > maxXMLDepth {
		return nil, fmt.Errorf("elements nested deeper than %d", maxXMLDepth)
	}
	m := map[string]any{}
	for _, a := range se.Attr {
		m["-"+a.Name.Local] = a.Value
	}
	var text strings.Builder
	children := false
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch x := tok.(type) {
		case xml.StartElement:
			v, err := xmlElement(d, x, depth+1)
			if err != nil {
				return nil, err
			}
			children = true
			name := x.Name.Local
			switch prev := m[name].(type) {
			case nil:
				m[name] = v
			case []any:
				m[name] = append(prev, v)
			default:
				m[name] = []any{prev, v}
			}
		case xml.CharData:
			text.Write(x)
		case xml.EndElement:
			t := strings.TrimSpace(text.String())
			if !children && len(se.Attr) == 0 {
				return t, nil
			}
			if t != "" {
				m["#text"] = t
			}
			return m, nil
		}
	}
}

// xmlMarshal is Tyk's template function: a map is written as XML the way decodeXML reads it
// ("-name" keys as attributes, "#text" as text, lists as repeated elements), in key order;
// anything else through encoding/xml.
func xmlMarshal(v any) (string, error) {
	m, ok := v.(map[string]any)
	if !ok {
		b, err := xml.MarshalIndent(v, "", "  ")
		return strings.TrimSpace(string(b)), err
	}
	var b strings.Builder
	if err := writeXMLMap(&b, m, 0); err != nil {
		return "", err
	}
	return b.String(), nil
}

func writeXMLMap(b *strings.Builder, m map[string]any, depth int) error {
	if depth > maxXMLDepth {
		return fmt.Errorf("values nested deeper than %d", maxXMLDepth)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if !strings.HasPrefix(k, "-") && k != "#text" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		list, ok := m[k].([]any)
		if !ok {
			list = []any{m[k]}
		}
		for _, v := range list {
			if err := writeXMLElement(b, k, v, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func writeXMLElement(b *strings.Builder, name string, v any, depth int) error {
	if !validXMLName(name) {
		return fmt.Errorf("%q is not an XML element name", name)
	}
	b.WriteString("<" + name)
	m, isMap := v.(map[string]any)
	if isMap {
		attrs := make([]string, 0)
		for k := range m {
			if strings.HasPrefix(k, "-") {
				attrs = append(attrs, k)
			}
		}
		sort.Strings(attrs)
		for _, k := range attrs {
			if !validXMLName(k[1:]) {
				return fmt.Errorf("%q is not an XML attribute name", k[1:])
			}
			b.WriteString(" " + k[1:] + `="`)
			if err := xml.EscapeText(b, []byte(fmt.Sprint(m[k]))); err != nil {
				return err
			}
			b.WriteString(`"`)
		}
	}
	b.WriteString(">")
	switch {
	case isMap:
		if t, ok := m["#text"]; ok {
			if err := xml.EscapeText(b, []byte(fmt.Sprint(t))); err != nil {
				return err
			}
		}
		if err := writeXMLMap(b, m, depth); err != nil {
			return err
		}
	case v != nil:
		if err := xml.EscapeText(b, []byte(fmt.Sprint(v))); err != nil {
			return err
		}
	}
	b.WriteString("</" + name + ">")
	return nil
}

// validXMLName reports whether s can be written as an element or attribute name: letters,
// digits, '_', '-', '.' and ':', not starting with a digit, '-' or '.'.
func validXMLName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		ok := r == '_' || r == ':' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 0x7f
		if i > 0 {
			ok = ok || r == '-' || r == '.' || r >= '0' && r <= '9'
		}
		if !ok {
			return false
		}
	}
	return true
}
