/* mime: builds the RFC 5322 / MIME text of a notification email
 * (multipart/alternative with a text and an HTML part). */
#ifndef HR_MIME_H
#define HR_MIME_H

#include <stddef.h>

#include "provider.h"

/* Returns the whole message with CRLF line ends (caller frees with free()),
 * and writes its Message-ID (with angle brackets) into msgid. */
char *hr_mime_email(const hr_message_t *m, const char *from, char *msgid, size_t msgid_len);

/* Headers beyond the defaults (each NULL or "" when not wanted). */
typedef struct hr_mime_opts {
    const char *from;             /* "Name <addr>" or "addr" */
    const char *reply_to;         /* same forms */
    const char *list_unsubscribe; /* a URL (https: or mailto:) */
} hr_mime_opts_t;

/* hr_mime_email with Reply-To and List-Unsubscribe (+ List-Unsubscribe-Post
 * for https links, RFC 8058) when set. */
char *hr_mime_email_opts(const hr_message_t *m, const hr_mime_opts_t *o, char *msgid,
                         size_t msgid_len);

/* The built-in layouts of a notification: plain text and HTML (caller
 * frees). Every data member becomes a line / table row. */
char *hr_mime_text(const hr_message_t *m);
char *hr_mime_html(const hr_message_t *m);

/* The unsubscribe link of a message: data.unsubscribe_url, else def. */
const char *hr_mime_unsubscribe(const hr_message_t *m, const char *def);

/* Writes the bare address of "Name <addr>" or "addr" into out. */
void hr_mime_address(const char *from, char *out, size_t len);

#endif
