//! Headless Chromium driven through chromedriver (fantoccini), found by the words a
//! person reads: labels, button and link names. Every page it opens can be checked by
//! axe-core and saved as a screenshot.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};

/// A browser session; chromedriver stops with it.
pub struct Browser {
    pub client: Client,
    driver: Child,
    axe: String,
    screenshots: PathBuf,
}

impl Drop for Browser {
    /// Ends chromedriver and the Chromium it started, even after a failed test: they run in
    /// a process group of their own.
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.driver.id()) {
            let group = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        }
        let _ = self.driver.wait();
    }
}

/// Chromium, chromedriver and axe-core, or None (a skip) when this machine lacks them
/// and the run is not strict.
pub async fn open() -> Option<Browser> {
    let axe = std::env::var("RBAC_TEST_AXE")
        .ok()
        .and_then(|path| std::fs::read_to_string(path).ok());
    let found = which("chromedriver").is_some() && which("chromium").is_some();
    let Some(axe) = axe.filter(|_| found) else {
        assert!(
            !crate::support::strict(),
            "the console's browser tests need chromium, chromedriver and axe-core (RBAC_TEST_AXE): run them with scripts/test, which provides them"
        );
        eprintln!(
            "skipped: no chromium, chromedriver or axe-core (RBAC_TEST_AXE); scripts/test provides them"
        );
        return None;
    };
    let port = crate::support::free_port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": which("chromium").unwrap(),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-background-networking", "--disable-dev-shm-usage",
                     "--window-size=1280,1000"]
        }),
    );
    let mut attempts = 0;
    let client = loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => break client,
            Err(err) => {
                attempts += 1;
                assert!(attempts < 100, "chromedriver did not start: {err}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let screenshots = std::env::var("RBAC_CONSOLE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console"));
    std::fs::create_dir_all(&screenshots).expect("screenshot folder");
    Some(Browser {
        client,
        driver,
        axe,
        screenshots,
    })
}

fn which(program: &str) -> Option<String> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
            .map(|path| path.to_string_lossy().into_owned())
    })
}

/// An XPath string literal for `text` (which holds no double quote).
fn literal(text: &str) -> String {
    assert!(!text.contains('"'));
    format!("\"{text}\"")
}

impl Browser {
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("open the page");
    }

    /// The control labelled exactly `label` (its `<label for>`).
    pub async fn control(&self, label: &str) -> Element {
        let xpath = format!("//label[normalize-space()={}]", literal(label));
        let label_element = self
            .client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|_| panic!("no control labelled {label:?}"));
        let id = label_element.attr("for").await.unwrap().expect("label for");
        self.client
            .find(Locator::Id(&id))
            .await
            .expect("labelled control")
    }

    /// The checkbox or radio whose label contains `text`.
    pub async fn check(&self, text: &str) {
        let xpath = format!("//label[contains(normalize-space(), {})]", literal(text));
        let label = self
            .client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|_| panic!("no box labelled {text:?}"));
        let id = label.attr("for").await.unwrap().expect("label for");
        let input = self.client.find(Locator::Id(&id)).await.unwrap();
        if !input.is_selected().await.unwrap() {
            input.click().await.unwrap();
        }
    }

    /// Clears the checkbox whose label contains `text`.
    pub async fn uncheck(&self, text: &str) {
        let xpath = format!("//label[contains(normalize-space(), {})]", literal(text));
        let label = self.client.find(Locator::XPath(&xpath)).await.unwrap();
        let id = label.attr("for").await.unwrap().expect("label for");
        let input = self.client.find(Locator::Id(&id)).await.unwrap();
        if input.is_selected().await.unwrap() {
            input.click().await.unwrap();
        }
    }

    pub async fn fill(&self, label: &str, text: &str) {
        let input = self.control(label).await;
        input.clear().await.unwrap();
        input.send_keys(text).await.unwrap();
    }

    /// Chooses the option shown as `option` in the select labelled `label`.
    pub async fn choose(&self, label: &str, option: &str) {
        self.control(label)
            .await
            .select_by_label(option)
            .await
            .unwrap_or_else(|e| panic!("{label:?} has no option {option:?}: {e}"));
    }

    /// Chooses the first option of `label` that contains `text`.
    pub async fn choose_containing(&self, label: &str, text: &str) {
        let select = self.control(label).await;
        let xpath = format!(".//option[contains(., {})]", literal(text));
        select
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|_| panic!("{label:?} has no option containing {text:?}"))
            .click()
            .await
            .unwrap();
    }

    /// Presses the button named `button` (its text or its label) and waits for the page
    /// it leads to.
    pub async fn press(&self, button: &str) {
        let name = literal(button);
        let xpath = format!("//button[normalize-space()={name} or @aria-label={name}]");
        let element = self
            .client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|_| panic!("no button {button:?}"));
        self.navigate(element).await;
    }

    /// Follows the link named `link` and waits for the page it leads to.
    pub async fn follow(&self, link: &str) {
        let xpath = format!("//a[normalize-space()={}]", literal(link));
        let element = self
            .client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|_| panic!("no link {link:?}"));
        self.navigate(element).await;
    }

    /// Clicks `element`, then waits until the page it was on has gone and the next one
    /// has loaded.
    async fn navigate(&self, element: Element) {
        let old = self.client.find(Locator::Css("html")).await.unwrap();
        element.click().await.unwrap();
        for _ in 0..200 {
            if old.tag_name().await.is_err() {
                let ready = self
                    .client
                    .execute("return document.readyState;", vec![])
                    .await
                    .unwrap();
                if ready == "complete" {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the page did not change within 5 s");
    }

    /// The page's visible text.
    pub async fn text(&self) -> String {
        self.client
            .find(Locator::Css("body"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }

    /// Runs axe-core's WCAG 2 A and AA rules on the page: none may fail. Then saves a
    /// screenshot as `name.png`.
    pub async fn inspect(&self, name: &str) {
        self.client
            .execute(&self.axe, vec![])
            .await
            .expect("load axe-core");
        let script = r#"
            const done = arguments[arguments.length - 1];
            axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] })
              .then(r => done(r.violations.map(v =>
                  `${v.id}: ${v.help} at ${v.nodes.map(n => n.target.join(" ")).join(", ")}`)))
              .catch(e => done([`axe failed: ${e}`]));
        "#;
        let violations = self
            .client
            .execute_async(script, vec![])
            .await
            .expect("axe");
        let violations: Vec<String> = serde_json::from_value(violations).unwrap();
        assert!(
            violations.is_empty(),
            "{name}: accessibility: {violations:#?}"
        );
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(self.screenshots.join(format!("{name}.png")), png).unwrap();
    }

    /// Whether the page fits a window of `width` CSS pixels without scrolling sideways (a
    /// 1280-pixel screen at 200 % zoom is 640).
    pub async fn fits(&self, width: u32) -> bool {
        self.client.set_window_size(width, 1000).await.unwrap();
        let fits = self
            .client
            .execute(
                "return document.documentElement.scrollWidth <= window.innerWidth;",
                vec![],
            )
            .await
            .unwrap();
        self.client.set_window_size(1280, 1000).await.unwrap();
        fits == serde_json::Value::Bool(true)
    }
}
