package ui

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// factRows renders a subject's facts (provider attributes) as labelled
// rows, one fact a row: lists are joined, a nested object is indented
// under its label, and a list of objects (policies) is one row per object.
// Values wrap under their column within width w.
func factRows(s *Styles, attrs map[string]any, w int) []string {
	type row struct{ label, value string }
	var rows []row
	var add func(indent, key string, v any)
	add = func(indent, key string, v any) {
		label := indent + strings.ReplaceAll(key, "_", " ")
		switch x := normal(v).(type) {
		case map[string]any:
			if len(x) == 0 {
				rows = append(rows, row{label, "-"})
				return
			}
			rows = append(rows, row{label, ""})
			for _, k := range sortedKeys(x) {
				add(indent+"  ", k, x[k])
			}
		case []any:
			if len(x) == 0 {
				rows = append(rows, row{label, "none"})
				return
			}
			if _, ok := normal(x[0]).(map[string]any); ok {
				for i, e := range x {
					l := label
					if i > 0 {
						l = ""
					}
					rows = append(rows, row{l, inline(e)})
				}
				return
			}
			parts := make([]string, len(x))
			for i, e := range x {
				parts[i] = scalar(e)
			}
			rows = append(rows, row{label, strings.Join(parts, ", ")})
		default:
			rows = append(rows, row{label, scalar(x)})
		}
	}
	for _, k := range sortedKeys(attrs) {
		add("", k, attrs[k])
	}
	lw := 0
	for _, r := range rows {
		lw = max(lw, ansi.StringWidth(r.label))
	}
	lw = min(lw+2, max(12, w/3))
	var out []string
	for _, r := range rows {
		vw := max(10, w-lw)
		lines := strings.Split(ansi.Wrap(r.value, vw, ""), "\n")
		for i, l := range lines {
			lab := ""
			if i == 0 {
				lab = r.label
			}
			out = append(out, s.Label.Render(pad(lab, lw))+truncate(l, vw))
		}
	}
	return out
}

// normal turns typed slices and maps (facts written in this process) into
// the []any and map[string]any that facts read back from the store are.
func normal(v any) any {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		if _, ok := v.([]any); ok {
			return v
		}
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = rv.Index(i).Interface()
		}
		return out
	case reflect.Map:
		if _, ok := v.(map[string]any); ok {
			return v
		}
		out := map[string]any{}
		for _, k := range rv.MapKeys() {
			out[fmt.Sprint(k.Interface())] = rv.MapIndex(k).Interface()
		}
		return out
	}
	return v
}

// scalar renders a single value: yes/no for booleans, numbers without
// exponent, anything else compact.
func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return "-"
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		if x == "" {
			return "-"
		}
		return x
	}
	return compact(v)
}

// inline renders an object of a list on one row: its name first, then
// every other field as "key value".
func inline(v any) string {
	m, ok := normal(v).(map[string]any)
	if !ok {
		return scalar(v)
	}
	keys := sortedKeys(m)
	sort.SliceStable(keys, func(i, j int) bool { return keys[i] == "name" && keys[j] != "name" })
	var parts []string
	for _, k := range keys {
		val := m[k]
		if _, nested := normal(val).(map[string]any); nested {
			val = compact(val)
		} else if l, list := normal(val).([]any); list {
			ps := make([]string, len(l))
			for i, e := range l {
				ps[i] = scalar(e)
			}
			val = strings.Join(ps, ", ")
		}
		if k == "name" {
			parts = append(parts, scalar(val))
			continue
		}
		parts = append(parts, strings.ReplaceAll(k, "_", " ")+" "+scalar(val))
	}
	if len(parts) > 1 && keys[0] == "name" {
		return parts[0] + " (" + strings.Join(parts[1:], ", ") + ")"
	}
	return strings.Join(parts, ", ")
}
