package kb

// ruleSet files every article's rules so that a crash finds the articles it
// may match without trying them all: patterns by anchor word, and the
// articles whose key criterion is only a type, a module, a taint letter or
// "in a module" by that value. Articles whose key criteria are title,
// frames or log are found through those alone: a type or taint match
// without them never makes a suggestion, so it need not make a candidate.
type ruleSet struct {
	title, frames, log, modules *anchorTable
	byType                      map[string][]*Article
	byTaint                     map[rune][]*Article
	// byFinding is indexed by position in findingKinds.
	byFinding [][]*Article
	inModule  []*Article
}

func newRuleSet() *ruleSet {
	return &ruleSet{title: newAnchorTable(), frames: newAnchorTable(), log: newAnchorTable(), modules: newAnchorTable(),
		byType: map[string][]*Article{}, byTaint: map[rune][]*Article{}, byFinding: make([][]*Article, len(findingKinds))}
}

// keyCriteria names the criteria that can make an article a suggestion:
// its most specific ones.
func (a *Article) keyCriteria() map[string]bool {
	r := &a.Match
	k := map[string]bool{}
	if len(r.Title) > 0 {
		k[critTitle] = true
	}
	if len(r.Frames) > 0 {
		k[critFrames] = true
	}
	if len(r.Log) > 0 {
		k[critLog] = true
	}
	if len(k) > 0 {
		return k
	}
	// A fact read from the dump names a failure better than its type.
	if len(r.Findings) > 0 {
		k[critFindings] = true
		return k
	}
	if len(r.Type) > 0 {
		k[critType] = true
		return k
	}
	if len(r.Modules) > 0 {
		k[critModules] = true
	}
	if r.Taint != "" {
		k[critTaint] = true
	}
	if r.InModule {
		k[critInModule] = true
	}
	return k
}

func (rs *ruleSet) add(a *Article) {
	c := a.compiled
	rs.title.add(a, c.titleAnchors)
	rs.frames.add(a, c.frameAnchors)
	rs.log.add(a, c.logAnchors)
	keys := c.keys
	if keys[critType] {
		for _, t := range c.types {
			rs.byType[t] = append(rs.byType[t], a)
		}
	}
	if keys[critModules] {
		rs.modules.add(a, c.moduleAnchors)
	}
	if keys[critTaint] {
		for _, l := range a.Match.Taint {
			rs.byTaint[l] = append(rs.byTaint[l], a)
		}
	}
	if keys[critInModule] {
		rs.inModule = append(rs.inModule, a)
	}
	if keys[critFindings] {
		for _, i := range c.findings {
			rs.byFinding[i] = append(rs.byFinding[i], a)
		}
	}
}

func (rs *ruleSet) remove(a *Article) {
	c := a.compiled
	rs.title.remove(a, c.titleAnchors)
	rs.frames.remove(a, c.frameAnchors)
	rs.log.remove(a, c.logAnchors)
	rs.modules.remove(a, c.moduleAnchors)
	drop := func(l []*Article) []*Article {
		out := l[:0]
		for _, x := range l {
			if x != a {
				out = append(out, x)
			}
		}
		return out
	}
	for _, t := range c.types {
		if l := drop(rs.byType[t]); len(l) > 0 {
			rs.byType[t] = l
		} else {
			delete(rs.byType, t)
		}
	}
	for _, t := range a.Match.Taint {
		if l := drop(rs.byTaint[t]); len(l) > 0 {
			rs.byTaint[t] = l
		} else {
			delete(rs.byTaint, t)
		}
	}
	rs.inModule = drop(rs.inModule)
	for i := range rs.byFinding {
		rs.byFinding[i] = drop(rs.byFinding[i])
	}
}
