/* migrate: applies the numbered SQL files of a folder in order, each once,
 * each in its own transaction, recorded in schema_migrations. */
#ifndef HR_MIGRATE_H
#define HR_MIGRATE_H

#include <jansson.h>
#include <stddef.h>

#include "db.h"

/* Applies what is new in dir. Returns the list of file names applied (caller
 * decrefs; empty when up to date), or NULL with the reason in err. */
json_t *hr_migrate(hr_db_t *db, const char *dir, char *err, size_t errlen);

#endif
