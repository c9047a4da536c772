package apidef

import (
	"fmt"
	"text/template/parse"
)

// StraightTemplate refuses in a parsed template (its tree, and how many templates it defines),
// what could make a body made from a few values render long or large (what names the template
// in errors): {{define}} and {{block}}, loops, template calls, variables and functions that
// build values. Webhook bodies and error override bodies are such templates.
func StraightTemplate(tree *parse.Tree, templates int, what string) error {
	if templates > 1 {
		return fmt.Errorf("{{define}} and {{block}} are not allowed in %s", what)
	}
	if tree == nil {
		return nil
	}
	return straight(tree.Root, what)
}

// straightFuncs are the functions a straight template may call: each returns a bool or a length,
// so no call can make a value larger than its data's own.
var straightFuncs = map[string]bool{"eq": true, "ne": true, "lt": true, "le": true, "gt": true, "ge": true,
	"and": true, "or": true, "not": true, "len": true}

// straight allows what a body made from a few values needs, and nothing that could make one
// render long or large: text, the data's fields, if and with, comparisons. Refused are loops and template
// calls, variables (a value that doubles at each assignment writes nothing, so the output cap
// never stops it) and every function that builds a value (printf, print, js, html, slice,
// index, call, ...): html/template escapes what is written anyway.
func straight(n parse.Node, what string) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := straight(c, what); err != nil {
				return err
			}
		}
		return nil
	case *parse.TextNode, *parse.CommentNode:
		return nil
	case *parse.ActionNode:
		return straightPipe(n.Pipe, what)
	case *parse.IfNode:
		return straightBranch(&n.BranchNode, what)
	case *parse.WithNode:
		return straightBranch(&n.BranchNode, what)
	case *parse.RangeNode:
		return fmt.Errorf("{{range}} is not allowed in %s", what)
	case *parse.TemplateNode:
		return fmt.Errorf("{{template}} is not allowed in %s", what)
	}
	return fmt.Errorf("%s is not allowed in %s", n, what)
}

func straightBranch(b *parse.BranchNode, what string) error {
	if err := straightPipe(b.Pipe, what); err != nil {
		return err
	}
	if err := straight(b.List, what); err != nil {
		return err
	}
	return straight(b.ElseList, what)
}

func straightPipe(p *parse.PipeNode, what string) error {
	if p == nil {
		return nil
	}
	if len(p.Decl) > 0 || p.IsAssign {
		return fmt.Errorf("variables are not allowed in %s", what)
	}
	for _, c := range p.Cmds {
		for _, arg := range c.Args {
			switch a := arg.(type) {
			case *parse.FieldNode, *parse.DotNode, *parse.StringNode, *parse.NumberNode, *parse.BoolNode, *parse.NilNode, *parse.VariableNode:
			case *parse.ChainNode:
				if pn, ok := a.Node.(*parse.PipeNode); !ok {
					return fmt.Errorf("%s is not allowed in %s", a, what)
				} else if err := straightPipe(pn, what); err != nil {
					return err
				}
			case *parse.PipeNode:
				if err := straightPipe(a, what); err != nil {
					return err
				}
			case *parse.IdentifierNode:
				if !straightFuncs[a.Ident] {
					return fmt.Errorf("the function %s is not allowed in %s (only eq, ne, lt, le, gt, ge, and, or, not and len are)", a.Ident, what)
				}
			default:
				return fmt.Errorf("%s is not allowed in %s", arg, what)
			}
		}
	}
	return nil
}
