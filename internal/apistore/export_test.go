package apistore

// Decoded reports whether e holds its decoded definition: false for a Classic file LoadMemo
// found unchanged (Def decodes it on each call).
func Decoded(e Entry) bool { return e.def != nil }
