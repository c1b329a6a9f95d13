/* SPDX-License-Identifier: Apache-2.0 */
/* Secrets at rest (SPEC §16.3): HKDF-SHA256 and AES-256-GCM over OpenSSL EVP. A box is
 * version(1) ‖ nonce(12) ‖ ciphertext ‖ tag(16); the AAD binds it to where it is stored, so
 * a box copied to another row or workspace does not open. Callers wipe plaintext buffers
 * with OPENSSL_cleanse (or explicit_bzero) once used. */
#ifndef HW_COMMON_SECRETBOX_H
#define HW_COMMON_SECRETBOX_H

#include <stddef.h>
#include <stdint.h>

#define HW_SECRETBOX_VERSION  1
#define HW_SECRETBOX_KEY_LEN  32
#define HW_SECRETBOX_NONCE_LEN 12
#define HW_SECRETBOX_TAG_LEN  16
#define HW_SECRETBOX_OVERHEAD (1 + HW_SECRETBOX_NONCE_LEN + HW_SECRETBOX_TAG_LEN)

/* RFC 5869 HKDF-SHA256 (extract then expand) of `out_len` bytes (at most 255 * 32).
 * Returns 0, -EINVAL or -EIO. */
int hw_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
		   const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len);

/* Seals `len` bytes under `key` with a fresh random nonce. `out_cap` must hold
 * len + HW_SECRETBOX_OVERHEAD; *out_len gets the box size. 0, -ENOSPC, -EIO. */
int hw_secretbox_seal(const uint8_t key[HW_SECRETBOX_KEY_LEN], const void *aad, size_t aad_len,
		      const void *plain, size_t len, uint8_t *out, size_t out_cap, size_t *out_len);

/* Opens a box; any change to the box, the AAD or the key fails with -EBADMSG and leaves
 * `out` wiped. `out_cap` must hold box_len - HW_SECRETBOX_OVERHEAD. 0, -EBADMSG, -ENOSPC,
 * -EIO. */
int hw_secretbox_open(const uint8_t key[HW_SECRETBOX_KEY_LEN], const void *aad, size_t aad_len,
		      const uint8_t *box, size_t box_len, void *out, size_t out_cap,
		      size_t *out_len);

/* BYOK provider keys (SPEC §16.3): the workspace key is HKDF-SHA256(master, salt
 * "hiway-byok-v1", info workspace_id) and the AAD workspace_id ‖ 0x00 ‖ provider. */
int hw_byok_seal(const uint8_t master[HW_SECRETBOX_KEY_LEN], const char *workspace_id,
		 const char *provider, const char *plain, size_t len, uint8_t *out, size_t out_cap,
		 size_t *out_len);
/* Opens into `out` as a NUL-terminated string (out_cap counts the NUL). */
int hw_byok_open(const uint8_t master[HW_SECRETBOX_KEY_LEN], const char *workspace_id,
		 const char *provider, const uint8_t *box, size_t box_len, char *out,
		 size_t out_cap);

#endif
