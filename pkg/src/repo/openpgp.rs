//! The repository keys: loading, the throw-away testing key, public keyrings and
//! the signatures a repository carries (clearsigned `InRelease`, detached
//! `Release.gpg` and `repomd.xml.asc`).
//!
//! Only OpenPGP v4 RSA keys are accepted (RHEL's rpm cannot verify EdDSA, gpg 2.2
//! cannot read v6 keys), and every signature made here hashes with SHA-512: apt's
//! `sqv` rejects SHA-1. Signatures carry the given time and nothing random, and
//! RSA PKCS#1 v1.5 is deterministic, so the same key, data and time give the same
//! bytes.

use std::path::{Path, PathBuf};

use pgp::composed::{
    ArmorOptions, CleartextSignedMessage, Deserializable, DetachedSignature, KeyType, SecretKeyParamsBuilder, SignedPublicKey, SignedSecretKey,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::crypto::public_key::PublicKeyAlgorithm;
use pgp::packet::{SignatureConfig, SignatureType, Subpacket, SubpacketData};
use pgp::ser::Serialize as _;
use pgp::types::{KeyDetails as _, KeyVersion, Password, PublicParams, SigningKey, Timestamp};

use crate::Error;

/// The hash of every signature made here.
pub const HASH: HashAlgorithm = HashAlgorithm::Sha512;

/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// One secret key that signs, and where it came from (for messages).
pub struct Key {
    origin: PathBuf,
    key: SignedSecretKey,
}

/// The keys that sign a repository: every signature is made by each of them
/// (a key rotation signs with the old and the new key).
pub struct Keys {
    keys: Vec<Key>,
}

impl Key {
    /// Loads an ASCII-armoured secret key without a passphrase and checks that it
    /// is a v4 RSA key that can sign and whose self-signatures do not use SHA-1.
    pub fn load(path: &Path) -> Result<Key, Error> {
        let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let bad = |why: &str, e: pgp::errors::Error| Error::key(Some(path), why, Some(e.into()));
        let (key, _) = SignedSecretKey::from_armor_single(&text[..])
            .map_err(|e| bad("not an ASCII-armoured OpenPGP secret key; export one with `gpg --export-secret-keys --armor FINGERPRINT`", e))?;
        key.verify_bindings().map_err(|e| bad("the key's self-signatures do not verify", e))?;
        let k = Key { origin: path.to_owned(), key };
        k.check().map_err(|why| Error::key(Some(path), why, None))?;
        Ok(k)
    }

    /// Makes a new RSA 3072 key that certifies and signs, created at `time`.
    pub fn generate(user_id: &str, time: u32) -> Result<Key, Error> {
        let params = SecretKeyParamsBuilder::default()
            .version(KeyVersion::V4)
            .key_type(KeyType::Rsa(3072))
            .can_certify(true)
            .can_sign(true)
            .created_at(Timestamp::from_secs(time))
            .primary_user_id(user_id.to_owned())
            .preferred_hash_algorithms([HashAlgorithm::Sha512, HashAlgorithm::Sha256].into_iter().collect())
            .build()
            .map_err(|e| Error::key(None, "key parameters", Some(e.into())))?;
        let key = params.generate(rand::rngs::OsRng).map_err(|e| Error::key(None, "generating an RSA key", Some(e.into())))?;
        let k = Key { origin: PathBuf::from("(generated)"), key };
        k.check().map_err(|why| Error::key(None, why, None))?;
        Ok(k)
    }

    /// The secret key, ASCII-armoured (to be kept away from the repository).
    pub fn secret_armored(&self) -> Result<String, Error> {
        self.key.to_armored_string(ArmorOptions::default()).map_err(|e| Error::encode("armouring the secret key", e))
    }

    /// The public key (certificate), as it goes into a keyring.
    pub fn public(&self) -> SignedPublicKey {
        self.key.to_public_key()
    }

    /// The primary key's fingerprint, upper-case hex.
    pub fn fingerprint(&self) -> String {
        crate::write::hex(self.key.primary_key.fingerprint().as_bytes()).to_uppercase()
    }

    /// When the key and its self-signatures were made: a signature older than
    /// the binding signatures does not verify (sqv: "no binding signature at
    /// time ...").
    pub fn created(&self) -> u32 {
        let k = &self.key;
        let sigs = k
            .details
            .users
            .iter()
            .flat_map(|u| u.signatures.iter())
            .chain(&k.details.direct_signatures)
            .chain(k.secret_subkeys.iter().flat_map(|s| &s.signatures));
        sigs.filter_map(|s| s.created()).map(|t| t.as_secs()).chain([k.primary_key.created_at().as_secs()]).max().unwrap_or(0)
    }

    /// Where the key was loaded from.
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    fn check(&self) -> Result<(), String> {
        let primary = &self.key.primary_key;
        if primary.version() != KeyVersion::V4 {
            return Err(format!("an OpenPGP {:?} key; repositories need a v4 key (gpg 2.2 and rpm cannot read newer ones)", primary.version()));
        }
        let self_sigs = self
            .key
            .details
            .users
            .iter()
            .flat_map(|u| u.signatures.iter())
            .chain(self.key.details.direct_signatures.iter())
            .chain(self.key.secret_subkeys.iter().flat_map(|s| s.signatures.iter()));
        for sig in self_sigs {
            if matches!(sig.hash_alg(), Some(HashAlgorithm::Sha1 | HashAlgorithm::Md5)) {
                return Err("a self-signature of the key uses SHA-1, which apt's sqv rejects: make a new key".to_owned());
            }
        }
        let signer = self.signer().ok_or("neither the key nor a subkey of it can sign")?;
        match (signer.algorithm(), signer.public_params()) {
            (PublicKeyAlgorithm::RSA | PublicKeyAlgorithm::RSASign, PublicParams::RSA(p)) => {
                let bits = rsa::traits::PublicKeyParts::n(&p.key).bits();
                if bits < MIN_RSA_BITS {
                    return Err(format!("an RSA key of {bits} bits; at least {MIN_RSA_BITS} are needed"));
                }
                Ok(())
            }
            (alg, _) => Err(format!("a {alg:?} signing key; repositories need RSA (the rpm of RHEL cannot verify EdDSA)")),
        }
    }

    /// The key that makes data signatures: the primary key when its flags allow
    /// signing, else the first subkey that may sign.
    fn signer(&self) -> Option<&dyn SigningKey> {
        let primary_signs = self.key.details.users.iter().flat_map(|u| u.signatures.iter()).any(|s| s.key_flags().sign());
        if primary_signs {
            return Some(&self.key.primary_key);
        }
        self.key.secret_subkeys.iter().find(|s| s.signatures.iter().any(|sig| sig.key_flags().sign())).map(|s| &s.key as &dyn SigningKey)
    }

    fn sign(&self, typ: SignatureType, data: &[u8], time: u32) -> Result<pgp::packet::Signature, Error> {
        let signer = self.signer().expect("checked at load");
        let fail = |e: pgp::errors::Error| Error::key(Some(&self.origin), "signing", Some(e.into()));
        let mut config = SignatureConfig::v4(typ, signer.algorithm(), HASH);
        config.hashed_subpackets = vec![
            Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::from_secs(time))).map_err(fail)?,
            Subpacket::regular(SubpacketData::IssuerFingerprint(signer.fingerprint())).map_err(fail)?,
        ];
        config.unhashed_subpackets = vec![Subpacket::regular(SubpacketData::IssuerKeyId(signer.legacy_key_id())).map_err(fail)?];
        config.sign(&Box::new(signer), &Password::empty(), data).map_err(fail)
    }
}

impl Keys {
    pub fn new(keys: Vec<Key>) -> Result<Keys, Error> {
        if keys.is_empty() {
            return Err(Error::key(None, "no signing key", None));
        }
        let mut seen = std::collections::BTreeSet::new();
        for k in &keys {
            if !seen.insert(k.fingerprint()) {
                return Err(Error::key(Some(&k.origin), format!("the key {} is given twice", k.fingerprint()), None));
            }
        }
        Ok(Keys { keys })
    }

    pub fn iter(&self) -> impl Iterator<Item = &Key> {
        self.keys.iter()
    }

    /// The time to sign at: `time`, or the creation of the newest key when that is
    /// later (a signature older than its key does not verify).
    pub fn sign_time(&self, time: u64) -> u32 {
        let newest = self.keys.iter().map(Key::created).max().unwrap_or(0);
        u32::try_from(time).unwrap_or(u32::MAX).max(newest)
    }

    /// The first key: the one that signs what can carry only one signature (an rpm).
    pub fn first(&self) -> &Key {
        &self.keys[0]
    }

    /// The public keys.
    pub fn public(&self) -> PublicKeys {
        PublicKeys(self.keys.iter().map(Key::public).collect())
    }

    /// `text` clearsigned by every key (apt's `InRelease`).
    pub fn clearsign(&self, text: &str, time: u32) -> Result<String, Error> {
        let mut failure = None;
        let msg = CleartextSignedMessage::new_many(text, |normalized| {
            let mut sigs = Vec::new();
            for k in &self.keys {
                match k.sign(SignatureType::Text, normalized.as_bytes(), time) {
                    Ok(s) => sigs.push(s),
                    Err(e) => {
                        failure = Some(e);
                        return Err(pgp::errors::Error::from("signing failed".to_owned()));
                    }
                }
            }
            Ok(sigs)
        });
        match (msg, failure) {
            (_, Some(e)) => Err(e),
            (Err(e), None) => Err(Error::encode("clearsigning", e)),
            (Ok(m), None) => m.to_armored_string(ArmorOptions::default()).map_err(|e| Error::encode("armouring the clearsigned text", e)),
        }
    }

    /// A detached binary signature of `data` by every key, in one armoured block
    /// (apt's `Release.gpg`, dnf's `repomd.xml.asc`, `SHA256SUMS.asc`).
    pub fn detach_sign(&self, data: &[u8], time: u32) -> Result<String, Error> {
        let sigs = self.keys.iter().map(|k| k.sign(SignatureType::Binary, data, time).map(DetachedSignature::new)).collect::<Result<Vec<_>, Error>>()?;
        let mut out = Vec::new();
        pgp::armor::write(&sigs, pgp::armor::BlockType::Signature, &mut out, None, true).map_err(|e| Error::encode("armouring a signature", e))?;
        String::from_utf8(out).map_err(|e| Error::encode("armouring a signature", e))
    }
}

/// Public keys (certificates), as keyrings are made of.
pub struct PublicKeys(Vec<SignedPublicKey>);

impl PublicKeys {
    /// Loads ASCII-armoured keys, public or secret (only the public part is kept),
    /// with the same requirements as [`Key::load`] for the key material.
    pub fn load(paths: &[PathBuf]) -> Result<PublicKeys, Error> {
        let mut keys = Vec::new();
        for path in paths {
            let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            if let Ok((k, _)) = SignedPublicKey::from_armor_single(&text[..]) {
                k.verify_bindings().map_err(|e| Error::key(Some(path), "the key's self-signatures do not verify", Some(e.into())))?;
                if k.primary_key.version() != KeyVersion::V4 {
                    return Err(Error::key(Some(path), "not an OpenPGP v4 key", None));
                }
                keys.push(k);
            } else {
                keys.push(Key::load(path)?.public());
            }
        }
        Ok(PublicKeys(keys))
    }

    /// Every key, binary, concatenated: a keyring for apt's `Signed-By`.
    pub fn keyring(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        for k in &self.0 {
            k.to_writer(&mut out).map_err(|e| Error::encode("writing the public key", e))?;
        }
        Ok(out)
    }

    /// Every key, ASCII-armoured, one block each (what `rpm --import` and dnf's
    /// `gpgkey=` read).
    pub fn armored(&self) -> Result<String, Error> {
        let mut out = String::new();
        for k in &self.0 {
            out.push_str(&k.to_armored_string(ArmorOptions::default()).map_err(|e| Error::encode("armouring the public key", e))?);
        }
        Ok(out)
    }
}
