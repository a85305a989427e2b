//! E-mail copies of notices in the platform's words: the service sends them, this module
//! renders them from the locale files and builds the mailer from the configuration.

use pubdata_service::mail::{Letter, MailContent, Mailer};

use crate::i18n::{t, Lang};
use crate::web::notice_title;
use crate::Config;

/// The mailer for this configuration, or `None` when mail is off (no `smtp_host`).
pub fn mailer(config: &Config, node: &str) -> anyhow::Result<Option<Mailer>> {
    let Some(settings) = config.mail()? else {
        return Ok(None);
    };
    let mailer = Mailer::new(&settings, node, render).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Some(mailer))
}

/// Users choose no language yet, so every e-mail is in Chinese with an English copy below;
/// the subject is Chinese. The reason is quoted as its author wrote it in both.
pub fn render(letter: &Letter<'_>) -> MailContent {
    let site = t(Lang::ZhCn, "site.name", &[]);
    let title = notice_title(Lang::ZhCn, letter.notice);
    MailContent {
        subject: t(
            Lang::ZhCn,
            "mail.subject",
            &[("site", site), ("title", title.trim_end_matches('。').to_string())],
        ),
        text: format!(
            "{}\n\n----------------------------------------\n\n{}\n",
            body(Lang::ZhCn, letter),
            body(Lang::En, letter)
        ),
    }
}

fn body(lang: Lang, letter: &Letter<'_>) -> String {
    let mut parts = vec![
        t(lang, "mail.greeting", &[("name", letter.name.to_string())]),
        notice_title(lang, letter.notice),
    ];
    if let Some(reason) = letter.notice.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        parts.push(format!("{}\n{reason}", t(lang, "mail.reason", &[])));
    }
    if let Some(link) = &letter.link {
        parts.push(t(lang, "mail.link", &[("link", link.clone())]));
    }
    parts.push(t(
        lang,
        "mail.footer",
        &[("site", t(lang, "site.name", &[])), ("inbox", letter.inbox.clone())],
    ));
    parts.join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use pubdata_store::NoticeRow;

    #[test]
    fn an_email_has_the_title_reason_and_link_in_both_languages() {
        let mut params = serde_json::Map::new();
        params.insert("title".into(), "四川省高速公路路段".into());
        let notice = NoticeRow {
            id: 1,
            user_id: 2,
            kind: "resource_returned".into(),
            params,
            reason: Some("请补充数据项说明".into()),
            link: Some("/provider/resources/7".into()),
            created_at: 0,
            read_at: None,
        };
        let letter = Letter {
            notice: &notice,
            name: "陈编辑",
            link: Some("https://data.example.gov.cn/provider/resources/7".into()),
            inbox: "https://data.example.gov.cn/inbox".into(),
        };
        let mail = render(&letter);
        assert_eq!(
            mail.subject,
            "【公共数据开放平台】数据资源“四川省高速公路路段”被退回，请按理由修改后重新提交"
        );
        let (zh, en) = mail.text.split_once("----").expect("two parts");
        assert!(zh.starts_with("陈编辑，您好："), "{zh}");
        assert!(zh.contains("理由：\n请补充数据项说明"), "{zh}");
        assert!(
            zh.contains("查看详情：https://data.example.gov.cn/provider/resources/7"),
            "{zh}"
        );
        assert!(en.contains("Dear 陈编辑,") && en.contains("was returned"), "{en}");
        assert!(en.contains("Reason, as written:\n请补充数据项说明"), "{en}");
        assert!(en.contains("https://data.example.gov.cn/inbox"), "{en}");
        assert!(!mail.text.contains("mail."), "no key shows itself: {}", mail.text);
    }
}
