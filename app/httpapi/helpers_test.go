package httpapi_test

import "github.com/hookline/hookline/app/apperr"

type appErr struct {
	code   string
	fields []string
}

func asApp(err error) *appErr {
	e := apperr.As(err)
	if e == nil {
		return nil
	}
	out := &appErr{code: e.Code}
	for _, f := range e.Fields {
		out.fields = append(out.fields, f.Field+": "+f.Message)
	}
	return out
}
