package keepalived

// node is a statement with its block, if a "{" followed it.
type node struct {
	pos Pos
	// words are the keyword and its values, split as keepalived splits
	// them.
	words []string
	// text is the statement as written (comments and the block gone),
	// for the values keepalived splits again, such as a script's command.
	text     string
	hasBlock bool
	block    []*node
}

func (n *node) keyword() string { return n.words[0] }

// args are the node's values, after its keyword.
func (n *node) args() []string { return n.words[1:] }

// maxDepth bounds the nesting of blocks: keepalived's deepest is four.
const maxDepth = 64

// buildTree nests the statements into blocks. A "{" opens the block of
// the statement before it; a "}" closes the innermost block.
func buildTree(stmts []statement, rep *report) []*node {
	var root []*node
	type open struct {
		n   *node // nil for the top level
		pos Pos
	}
	stack := []open{{}}
	add := func(n *node) {
		top := stack[len(stack)-1]
		if top.n == nil {
			root = append(root, n)
		} else {
			top.n.block = append(top.n.block, n)
		}
	}
	last := func() *node {
		top := stack[len(stack)-1]
		list := root
		if top.n != nil {
			list = top.n.block
		}
		if len(list) == 0 {
			return nil
		}
		return list[len(list)-1]
	}
	for _, s := range stmts {
		switch s.text {
		case "{":
			n := last()
			if n == nil || n.hasBlock {
				rep.errorf(s.pos, "", "a block (\"{\") that follows no keyword")
				n = &node{pos: s.pos, words: []string{"{"}, text: "{"}
				add(n)
			}
			if len(stack) > maxDepth {
				rep.errorf(s.pos, n.keyword(), "blocks nest deeper than %d", maxDepth)
				return root
			}
			n.hasBlock = true
			stack = append(stack, open{n, s.pos})
		case "}":
			if len(stack) == 1 {
				rep.errorf(s.pos, "", "a \"}\" that closes no block")
				continue
			}
			stack = stack[:len(stack)-1]
		default:
			w, ok := words(s.text)
			if !ok {
				rep.errorf(s.pos, "", "a quote (\") is not closed")
				continue
			}
			if len(w) == 0 {
				continue
			}
			add(&node{pos: s.pos, words: w, text: s.text})
		}
	}
	for _, o := range stack[1:] {
		rep.errorf(o.pos, o.n.keyword(), "the block opened here is not closed")
	}
	return root
}
