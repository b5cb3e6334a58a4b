package kb

import (
	"sort"
	"strconv"
	"strings"
)

// AcceptLanguage picks the article language an HTTP Accept-Language
// header prefers ("ja,en-US;q=0.8" → "ja"): the supported language with
// the highest weight, the earlier one on a tie; DefaultLang when the
// header names none of Languages.
func AcceptLanguage(header string) string {
	type pref struct {
		lang string
		q    float64
		pos  int
	}
	var prefs []pref
	for i, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(p), "q="); ok {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
		}
		if l := supported(tag); l != "" && q > 0 {
			prefs = append(prefs, pref{l, q, i})
		}
	}
	if len(prefs) == 0 {
		return DefaultLang
	}
	sort.SliceStable(prefs, func(i, j int) bool { return prefs[i].q > prefs[j].q })
	return prefs[0].lang
}

// LocaleLang is the article language of a POSIX locale ("ja_JP.UTF-8" →
// "ja", "C" → "en"): what the command line makes of LC_ALL, LC_MESSAGES
// or LANG. DefaultLang when the locale names none of Languages.
func LocaleLang(locale string) string {
	if l := supported(locale); l != "" {
		return l
	}
	return DefaultLang
}

// supported is the language of a language tag or locale name among
// Languages ("ja-JP", "ja_JP.UTF-8", "JA"), or "".
func supported(tag string) string {
	tag = strings.ToLower(strings.TrimSpace(tag))
	if i := strings.IndexAny(tag, "-_.@"); i >= 0 {
		tag = tag[:i]
	}
	for _, l := range Languages {
		if tag == l {
			return l
		}
	}
	return ""
}
