/* mime: builds the RFC 5322 / MIME text of a notification email
 * (multipart/alternative with a text and an HTML part). */
#ifndef HR_MIME_H
#define HR_MIME_H

#include <stddef.h>

#include "provider.h"

/* Returns the whole message with CRLF line ends (caller frees with free()),
 * and writes its Message-ID (with angle brackets) into msgid. */
char *hr_mime_email(const hr_message_t *m, const char *from, char *msgid, size_t msgid_len);

/* Writes the bare address of "Name <addr>" or "addr" into out. */
void hr_mime_address(const char *from, char *out, size_t len);

#endif
