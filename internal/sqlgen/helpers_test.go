package sqlgen_test

import "reflect"

var reflectRow = reflect.TypeFor[map[string]any]()
