// SPDX-License-Identifier: Apache-2.0
/* HKDF-SHA256 and AES-256-GCM boxes for secrets kept in the store (SPEC §16.3). Every
 * buffer that held a derived key or a plaintext is wiped before it goes out of scope. */
#include "common/secretbox.h"

#include "common/crypto.h"

#include <errno.h>
#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#define BYOK_SALT "hiway-byok-v1"
/* workspace id ‖ 0x00 ‖ provider id, both bounded by their stores. */
#define AAD_MAX 256

/* Fetched once: an implicit fetch per call would search OpenSSL's global method store, under
 * its lock, on every request that opens a key. Never freed: they live as long as the
 * process, like OpenSSL's own tables. */
static EVP_KDF *hkdf_alg;
static EVP_CIPHER *gcm_alg;
static pthread_once_t algs_once = PTHREAD_ONCE_INIT;

static void algs_fetch(void)
{
	hkdf_alg = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
	gcm_alg = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

static bool algs_ready(void)
{
	pthread_once(&algs_once, algs_fetch);
	return hkdf_alg && gcm_alg;
}

int hw_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
		   const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[5], *p = params;
	int rc = -EIO;

	if (out_len == 0 || out_len > (size_t)255 * 32)
		return -EINVAL;
	kctx = algs_ready() ? EVP_KDF_CTX_new(hkdf_alg) : NULL;
	if (!kctx)
		goto out;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, out_len, params) == 1)
		rc = 0;
out:
	EVP_KDF_CTX_free(kctx);
	return rc;
}

int hw_secretbox_seal(const uint8_t key[HW_SECRETBOX_KEY_LEN], const void *aad, size_t aad_len,
		      const void *plain, size_t len, uint8_t *out, size_t out_cap, size_t *out_len)
{
	uint8_t *nonce = out + 1, *ct = out + 1 + HW_SECRETBOX_NONCE_LEN;
	EVP_CIPHER_CTX *ctx = NULL;
	int n = 0, fin = 0, rc = -ENOSPC;

	*out_len = 0;
	if (len > INT_MAX - HW_SECRETBOX_OVERHEAD || aad_len > INT_MAX ||
	    out_cap < len + HW_SECRETBOX_OVERHEAD)
		return rc;
	rc = -EIO;
	out[0] = HW_SECRETBOX_VERSION;
	if (hw_random_bytes(nonce, HW_SECRETBOX_NONCE_LEN) < 0)
		return rc;
	ctx = algs_ready() ? EVP_CIPHER_CTX_new() : NULL;
	if (!ctx || EVP_EncryptInit_ex2(ctx, gcm_alg, key, nonce, NULL) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1 ||
	    EVP_EncryptUpdate(ctx, ct, &n, plain, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, ct + n, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, HW_SECRETBOX_TAG_LEN, ct + len) != 1)
		goto out;
	*out_len = len + HW_SECRETBOX_OVERHEAD;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (rc < 0)
		OPENSSL_cleanse(out, out_cap);
	return rc;
}

int hw_secretbox_open(const uint8_t key[HW_SECRETBOX_KEY_LEN], const void *aad, size_t aad_len,
		      const uint8_t *box, size_t box_len, void *out, size_t out_cap,
		      size_t *out_len)
{
	const uint8_t *nonce = box + 1, *ct = box + 1 + HW_SECRETBOX_NONCE_LEN;
	size_t len = box_len - HW_SECRETBOX_OVERHEAD;
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t tag[HW_SECRETBOX_TAG_LEN];
	int n = 0, fin = 0, rc = -EBADMSG;

	*out_len = 0;
	if (box_len < HW_SECRETBOX_OVERHEAD || box[0] != HW_SECRETBOX_VERSION ||
	    box_len > INT_MAX || aad_len > INT_MAX)
		return rc;
	if (out_cap < len)
		return -ENOSPC;
	/* EVP takes the expected tag through a non-const pointer. */
	memcpy(tag, ct + len, sizeof(tag));
	ctx = algs_ready() ? EVP_CIPHER_CTX_new() : NULL;
	if (!ctx || EVP_DecryptInit_ex2(ctx, gcm_alg, key, nonce, NULL) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1 ||
	    EVP_DecryptUpdate(ctx, out, &n, ct, (int)len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, sizeof(tag), tag) != 1) {
		rc = -EIO;
		goto out;
	}
	/* Only the final call checks the tag: until it passes, `out` holds unverified bytes. */
	if (EVP_DecryptFinal_ex(ctx, (uint8_t *)out + n, &fin) != 1)
		goto out;
	*out_len = len;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (rc < 0)
		OPENSSL_cleanse(out, out_cap);
	return rc;
}

/* The workspace key and the AAD of a BYOK box; -EINVAL when the ids do not fit. */
static int byok_params(const uint8_t master[HW_SECRETBOX_KEY_LEN], const char *workspace_id,
		       const char *provider, uint8_t key[HW_SECRETBOX_KEY_LEN],
		       uint8_t aad[AAD_MAX], size_t *aad_len)
{
	size_t wl = strlen(workspace_id), pl = strlen(provider);

	if (wl + 1 + pl > AAD_MAX)
		return -EINVAL;
	memcpy(aad, workspace_id, wl);
	aad[wl] = 0;
	memcpy(aad + wl + 1, provider, pl);
	*aad_len = wl + 1 + pl;
	return hw_hkdf_sha256(master, HW_SECRETBOX_KEY_LEN, (const uint8_t *)BYOK_SALT,
			      sizeof(BYOK_SALT) - 1, (const uint8_t *)workspace_id, wl, key,
			      HW_SECRETBOX_KEY_LEN);
}

int hw_byok_seal(const uint8_t master[HW_SECRETBOX_KEY_LEN], const char *workspace_id,
		 const char *provider, const char *plain, size_t len, uint8_t *out, size_t out_cap,
		 size_t *out_len)
{
	uint8_t key[HW_SECRETBOX_KEY_LEN], aad[AAD_MAX];
	size_t aad_len = 0;
	int rc = byok_params(master, workspace_id, provider, key, aad, &aad_len);

	if (rc == 0)
		rc = hw_secretbox_seal(key, aad, aad_len, plain, len, out, out_cap, out_len);
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

int hw_byok_open(const uint8_t master[HW_SECRETBOX_KEY_LEN], const char *workspace_id,
		 const char *provider, const uint8_t *box, size_t box_len, char *out,
		 size_t out_cap)
{
	uint8_t key[HW_SECRETBOX_KEY_LEN], aad[AAD_MAX];
	size_t aad_len = 0, len = 0;
	int rc = out_cap ? byok_params(master, workspace_id, provider, key, aad, &aad_len)
			 : -ENOSPC;

	if (rc == 0)
		rc = hw_secretbox_open(key, aad, aad_len, box, box_len, out, out_cap - 1, &len);
	if (rc == 0)
		out[len] = '\0';
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}
