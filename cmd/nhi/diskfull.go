package main

import (
	"fmt"
	"path/filepath"

	"github.com/nhi-inventory/nhi/inventory"
)

// diskFull says what to do when the disk holding the inventory filled up
// during scan id: SQLite rolled the batch back, so nothing is lost.
func diskFull(store *inventory.Store, id int64, err error) error {
	if !inventory.IsDiskFull(err) {
		return err
	}
	return fmt.Errorf("%w: the disk holding %s is full; free space there (or give --db a file on another disk) and scan again. Scan %d is kept as incomplete; the inventory is as the last complete scan left it",
		err, filepath.Dir(store.Path()), id)
}
