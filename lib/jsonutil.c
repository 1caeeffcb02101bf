/* jsonutil: error bodies and jansson helpers. */
#include "jsonutil.h"

#include "log.h"

char *hr_json_error_body(const char *code, const char *message, const char *field)
{
    json_t *e = json_pack("{s:s, s:s}", "code", code, "message", message);
    hr_assert(e != NULL);
    if (field != NULL)
        json_object_set_new(e, "field", json_string(field));
    json_t *root = json_pack("{s:o}", "error", e);
    hr_assert(root != NULL);
    char *s = hr_json_dump(root);
    json_decref(root);
    return s;
}

const char *hr_json_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

char *hr_json_dump(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    hr_assert(s != NULL);
    return s;
}
