//! What a user searching the catalogue in Chinese, pinyin or English gets back, and in what order.

mod common;

use common::{catalogue_index, ids, search};

fn titles(results: &pubdata_search::Results) -> Vec<String> {
    results
        .hits
        .iter()
        .map(|h| h.title_html.replace("<mark>", "").replace("</mark>", ""))
        .collect()
}

#[test]
fn a_word_inside_a_longer_word_is_found() {
    let index = catalogue_index();
    let found = search(&index, "公积金");
    // 住房公积金 is one word of the title, yet 公积金 finds it, first with the other fund title.
    let mut top2 = ids(&found)[..2].to_vec();
    top2.sort();
    assert_eq!(top2, vec![1, 2], "{:?}", titles(&found));
    assert!(found.hits[0].title_html.contains("<mark>"), "{:?}", found.hits[0]);

    let found = search(&index, "街道");
    assert_eq!(ids(&found).first(), Some(&4), "{:?}", titles(&found));

    let found = search(&index, "住房公积金");
    assert_eq!(ids(&found).first(), Some(&1), "{:?}", titles(&found));
}

#[test]
fn every_word_must_match() {
    let index = catalogue_index();
    // Both 行政 documents have 信息; only one has 处罚.
    assert_eq!(ids(&search(&index, "行政 处罚")), vec![17]);
    assert_eq!(ids(&search(&index, "行政处罚信息")), vec![17]);
    let both = search(&index, "双公示");
    let mut got = ids(&both);
    got.sort();
    assert_eq!(got, vec![16, 17]);
    assert!(search(&index, "公积金 幼儿园").hits.is_empty());
}

#[test]
fn title_beats_tags_beats_summary_beats_fields_beats_provider() {
    let index = catalogue_index();
    // 水文 is in the title of 27, the summary of 28, a 数据项 of 29 and the provider of 30.
    assert_eq!(ids(&search(&index, "水文")), vec![27, 28, 29, 30]);
    let found = search(&index, "医疗");
    // 医疗机构名录 and 医保定点医疗机构 have it in the title and tags; 社保参保单位统计 only in the summary.
    let got = ids(&found);
    assert_eq!(got.len(), 3, "{:?}", titles(&found));
    assert_eq!(got[2], 25, "{:?}", titles(&found));
}

#[test]
fn pinyin_spelling_and_initials_find_chinese_words() {
    let index = catalogue_index();
    for typed in ["gongjijin", "gjj", "GongJiJin"] {
        let found = search(&index, typed);
        let mut top2 = ids(&found)[..2.min(found.hits.len())].to_vec();
        top2.sort();
        assert_eq!(top2, vec![1, 2], "{typed}: {:?}", titles(&found));
    }
    assert_eq!(ids(&search(&index, "xingzhengquhua")).first(), Some(&3));
    assert_eq!(ids(&search(&index, "xzqh")).first(), Some(&3));
    let found = search(&index, "gongjiao");
    let mut got = ids(&found);
    got.sort();
    assert_eq!(got, vec![11, 12], "{:?}", titles(&found));
    // From three letters on, a prefix: 公积金 (gongjijin) and 公交 (gongjiao) both start gongji.
    let found = search(&index, "gongji");
    let mut top4 = ids(&found)[..4.min(found.hits.len())].to_vec();
    top4.sort();
    assert_eq!(top4, vec![1, 2, 11, 12], "{:?}", titles(&found));
    // The Chinese word the pinyin stood for is marked.
    assert!(search(&index, "gongjiao").hits[0].title_html.contains("<mark>公交"));
}

#[test]
fn english_titles_are_stemmed() {
    let index = catalogue_index();
    assert_eq!(ids(&search(&index, "schools")), vec![19]);
    assert_eq!(ids(&search(&index, "school")), vec![19]);
    assert_eq!(ids(&search(&index, "SCHOOL")), vec![19]);
    assert_eq!(ids(&search(&index, "monitoring")).len(), 2);
    assert_eq!(ids(&search(&index, "air quality")), vec![9]);
    // Full-width letters are folded.
    assert_eq!(ids(&search(&index, "ｓｃｈｏｏｌｓ")), vec![19]);
}

#[test]
fn quoted_text_is_a_phrase() {
    let index = catalogue_index();
    assert_eq!(ids(&search(&index, "\"空气质量监测\"")), vec![9]);
    assert_eq!(ids(&search(&index, "“行政处罚”")), vec![17]);
    // The same words, not in that order: no phrase match, though both words are in the title.
    assert!(search(&index, "\"监测 空气质量\"").hits.is_empty());
    assert_eq!(ids(&search(&index, "监测 空气质量")), vec![9]);
}

#[test]
fn a_resource_code_finds_its_resource_first() {
    let index = catalogue_index();
    let code = common::catalogue()[14].code.clone();
    let found = search(&index, &code);
    assert_eq!(found.hits.first().map(|h| h.code.as_str()), Some(code.as_str()));
}

#[test]
fn common_words_do_not_have_to_match() {
    let index = catalogue_index();
    assert_eq!(ids(&search(&index, "空气质量的监测")), vec![9]);
    assert_eq!(ids(&search(&index, "the schools")), vec![19]);
}

#[test]
fn matches_are_marked_and_html_is_escaped() {
    let index = catalogue_index();
    let found = search(&index, "空气质量");
    assert_eq!(found.hits[0].title_html, "<mark>空气质量</mark>监测数据");
    assert!(
        found.hits[0].snippet_html.contains("<mark>空气质量</mark>指数"),
        "{}",
        found.hits[0].snippet_html
    );

    let found = search(&index, "测试");
    assert_eq!(
        found.hits[0].title_html,
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; <mark>测试</mark> &amp; &quot;数据&quot;"
    );
    assert_eq!(
        found.hits[0].snippet_html,
        "摘要里有 &lt;b&gt;标签&lt;/b&gt; &amp; 符号。"
    );

    // No text: the plain escaped title and the start of the summary.
    let all = search(&index, "");
    let hit = all.hits.iter().find(|h| h.id == 31).expect("document 31");
    assert!(hit.title_html.starts_with("&lt;script&gt;") && !hit.title_html.contains("<mark>"));
    assert!(!hit.snippet_html.contains('<'));
}

#[test]
fn scores_fall_down_the_page() {
    let index = catalogue_index();
    let found = search(&index, "名录");
    assert!(found.hits.len() >= 5);
    assert!(
        found.hits.windows(2).all(|w| w[0].score >= w[1].score),
        "{:?}",
        found.hits
    );
    assert!(found.hits[0].score > 0.0);
}

#[test]
fn a_hit_carries_what_a_result_list_shows() {
    let mut docs = common::catalogue();
    docs[0].row_count = Some(1234);
    let first_tag = docs[0].tags[0].clone();
    docs[0].tags.push(first_tag);
    let want = docs[0].clone();
    let index = common::index_of(&docs);
    let found = search(&index, "住房公积金");
    let hit = found.hits.iter().find(|h| h.id == want.id).expect("the first document");
    assert_eq!(hit.code, want.code);
    assert_eq!(hit.title, want.title);
    assert_eq!(
        (hit.provider.as_str(), hit.provider_key.as_str()),
        (want.provider.as_str(), want.provider_key.as_str())
    );
    assert_eq!(
        (hit.domain.as_str(), hit.open_type.as_str()),
        (want.domain.as_str(), want.open_type.as_str())
    );
    assert_eq!(hit.update_frequency, want.update_frequency);
    assert_eq!(hit.formats, want.formats);
    // Tags come back once each, in their order.
    assert_eq!(hit.tags, want.tags[..want.tags.len() - 1].to_vec());
    assert_eq!((hit.row_count, hit.updated_at), (Some(1234), want.updated_at));
}

#[test]
fn the_generation_changes_with_each_commit() {
    let index = pubdata_search::Index::in_memory().unwrap();
    let before = index.generation();
    let mut w = index.writer().unwrap();
    w.upsert(&common::catalogue()[0]).unwrap();
    w.commit(1).unwrap();
    let after = index.generation();
    assert_ne!(before, after);
    let w = index.writer().unwrap();
    w.commit(2).unwrap();
    assert_ne!(index.generation(), after);
}
