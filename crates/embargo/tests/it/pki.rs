//! Certificates made for a test with OpenSSL (Debian: openssl), in a folder of their own: a
//! CA, a server certificate for 127.0.0.1 signed by it with its key, another CA that signed
//! nothing, and a key that belongs to no certificate. The IMAP-over-TLS and HTTPS tests use
//! them.

use std::path::PathBuf;
use std::process::Command;

pub struct TestPki {
    pub ca: PathBuf,
    pub other_ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub stray_key: PathBuf,
    pub dir: tempfile::TempDir,
}

impl TestPki {
    pub fn make() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(d)
                .output()
                .expect("openssl (Debian: openssl)");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        for (name, cn) in [("ca", "Embargo test CA"), ("other-ca", "Someone else's CA")] {
            let (key, pem, subj) = (
                format!("{name}.key"),
                format!("{name}.pem"),
                format!("/CN={cn}"),
            );
            let mut args = vec!["req", "-x509", "-new"];
            args.extend(ec);
            args.extend([
                "-keyout",
                &key,
                "-out",
                &pem,
                "-days",
                "2",
                "-subj",
                &subj,
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ]);
            openssl(&args);
        }
        for (key, csr) in [("server.key", "server.csr"), ("stray.key", "stray.csr")] {
            let mut args = vec!["req", "-new"];
            args.extend(ec);
            args.extend(["-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"]);
            openssl(&args);
        }
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "2",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ]);
        Self {
            ca: d.join("ca.pem"),
            other_ca: d.join("other-ca.pem"),
            cert: d.join("server.pem"),
            key: d.join("server.key"),
            stray_key: d.join("stray.key"),
            dir,
        }
    }
}
