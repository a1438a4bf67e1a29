"""Evidence that a registry candidate is the queried company (spec: docs/candidate-evidence.md).

Pure functions, no I/O.  A candidate is accepted only with evidence: its name equals the query
(`exact_name`), one of its former names does (`former_name`), or the two names differ only in
their legal form, `（集团）`, bracket width, punctuation or spacing (`legal_form_variant`).  A
similarity score (rapidfuzz) ranks candidates for review but never accepts one.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from python_enrich.eqc.client import Candidate
from python_enrich.normalization import normalize_company_name

EXACT_NAME, FORMER_NAME, LEGAL_FORM_VARIANT = "exact_name", "former_name", "legal_form_variant"
EVIDENCE_KINDS = (EXACT_NAME, FORMER_NAME, LEGAL_FORM_VARIANT)
# Confidence written on the cache entry for each kind of evidence (a person's decision: 1).
EVIDENCE_CONFIDENCE = {EXACT_NAME: 1.0, FORMER_NAME: 0.95, LEGAL_FORM_VARIANT: 0.95}
MATCH_KINDS = {"全称精确匹配": "exact", "模糊匹配": "fuzzy", "拼音": "pinyin"}
REVIEW_KEEP = 5  # candidates kept on a request waiting for review

# Legal-form endings, longest first; stripped from the end, repeatedly ("集团有限公司" = 集团 + 有限公司).
LEGAL_FORMS = (
    "股份有限公司", "有限责任公司", "股份合作公司", "有限公司", "集团公司", "股份公司", "总公司", "集团", "公司",
)  # fmt: skip
# A name carrying one of these is a branch or an office: a different company from its parent.
BRANCH_MARKERS = (
    "分公司",
    "分行",
    "支行",
    "分理处",
    "营业部",
    "办事处",
    "代表处",
    "分厂",
    "分店",
    "分部",
    "分社",
    "分所",
)
# Leading region words (provinces, municipalities, large cities), with an optional 省/市/自治区.
REGIONS = (
    "中国", "中华", "北京", "上海", "天津", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽",
    "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西", "甘肃", "青海",
    "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门", "深圳", "广州", "杭州", "南京", "宁波", "成都",
    "武汉", "西安", "长沙", "厦门", "青岛", "苏州", "合肥", "大连", "沈阳", "济南", "郑州", "福州", "昆明", "无锡",
    "佛山", "东莞", "珠海", "温州", "南昌", "南宁", "贵阳", "太原", "石家庄", "哈尔滨", "长春", "兰州", "乌鲁木齐",
)  # fmt: skip
# Words that say what a company does, not who it is.
INDUSTRY_WORDS = (
    "科技", "实业", "投资", "建设", "物流", "能源", "医药", "电子", "化工", "食品", "机械", "传媒", "置业", "环保",
    "材料", "通信", "金融服务", "金融", "服务", "港口", "航运", "纺织", "贸易", "商贸", "发展", "控股", "管理",
    "咨询", "工程", "技术", "信息", "网络", "软件", "文化", "教育", "房地产", "地产", "开发", "制造", "国际",
    "银行", "保险", "证券", "信托", "资产", "基金", "汽车", "电力", "电气", "钢铁", "矿业", "农业", "生物",
    "环境", "运输", "交通", "建筑", "设计", "装饰", "集团", "股份", "有限", "责任", "实业发展", "产业", "经营",
)  # fmt: skip
_REGION_PATTERN = re.compile("^(?:" + "|".join(sorted(REGIONS, key=len, reverse=True)) + ")(?:省|市|自治区)?")
_INDUSTRY_BY_LENGTH = tuple(sorted(INDUSTRY_WORDS, key=len, reverse=True))
# Punctuation and separators that never change identity (brackets go; what they enclose stays).
_PUNCTUATION = re.compile(r"[\s·•.,，、。:：;；'\"“”‘’()（）\[\]【】《》<>〈〉\-—_/\\&＆+]")
_FULL_TO_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}


def display_form(name: str) -> str:
    """A registry name in the warehouse's light form: no whitespace, half width, Chinese round
    brackets, upper case (what normalization does without its status-marker and bracket cuts)."""
    text = "".join(ch for ch in name if not ch.isspace()).translate(_FULL_TO_HALF_WIDTH)
    return text.replace("(", "（").replace(")", "）").upper()


def same_name(query: str, name: str) -> bool:
    """The registry name normalizes to the query, and normalization cut nothing off it: its light
    form is the query. (The normalizer cuts a leading or trailing bracket such as （北京）, a 原
    prefix, a -2 suffix, 及下属子企业: in a registry's name those can name another company.)"""
    return display_form(name) == query and normalize_company_name(name) == query


def identity_core(name: str) -> str:
    """The name without what never changes identity: spacing, width, punctuation, brackets,
    `（集团）`, and its legal-form ending."""
    text = display_form(name).replace("（集团）", "")
    text = _PUNCTUATION.sub("", text)
    stripped = True
    while stripped:
        stripped = False
        for form in LEGAL_FORMS:
            if text.endswith(form) and len(text) > len(form):
                text, stripped = text[: -len(form)], True
                break
    return text


def distinctive_part(name: str) -> str:
    """The trade name: the identity core without its leading region and trailing industry words
    (the first word stays when only industry words remain, e.g. 电力 in 山东电力材料; a name that
    is a region and one industry word has none)."""
    text = _REGION_PATTERN.sub("", identity_core(name), count=1)
    whole, stripped = text, True
    while stripped:
        stripped = False
        for word in _INDUSTRY_BY_LENGTH:
            if text.endswith(word) and len(text) > len(word):
                text, stripped = text[: -len(word)], True
                break
    return "" if text == whole and text in INDUSTRY_WORDS else text  # 北京科技有限公司 has no trade name


def is_branch(name: str) -> bool:
    return any(marker in display_form(name) for marker in BRANCH_MARKERS)


def legal_form_variant(query: str, name: str) -> bool:
    """Same identity core, with a trade name in it.  (A branch never shares its parent's core: its
    city and 分公司 stay in it.)"""
    core = identity_core(query)
    return bool(core) and bool(distinctive_part(query)) and core == identity_core(name)


def shares_distinctive(query: str, names: Iterable[str]) -> bool:
    """Does any of the names contain a piece (two characters, or the whole of a one-character
    trade name) of the query's trade name?"""
    trade = distinctive_part(query)
    if not trade:
        return False
    pieces = {trade} if len(trade) == 1 else {trade[i : i + 2] for i in range(len(trade) - 1)}
    return any(piece in identity_core(name) for name in names for piece in pieces)


def similarity(query: str, name: str) -> float:
    """0..100 (rapidfuzz ratio of the identity cores): ranks candidates, never accepts one."""
    return round(fuzz.ratio(identity_core(query), identity_core(name)), 1)


def evidence_for(query: str, candidate: Candidate) -> str | None:
    """The strongest evidence that the candidate is the company the query names, or None."""
    if same_name(query, candidate.full_name):
        return EXACT_NAME
    if any(same_name(query, former) for former in candidate.former_names):
        return FORMER_NAME
    if legal_form_variant(query, candidate.full_name):
        return LEGAL_FORM_VARIANT
    return None


def match_kind(candidate: Candidate) -> str:
    """The registry's own match type in a word: exact, fuzzy, pinyin or other."""
    return MATCH_KINDS.get(candidate.match_type, "other")


@dataclass(frozen=True)
class Assessment:
    candidate: Candidate
    evidence: str | None
    score: float  # similarity 0..100
    shares_distinctive: bool
    rejected: bool = False

    @property
    def why_not(self) -> str:
        """Why this candidate was not accepted (empty when it carries evidence)."""
        if self.rejected:
            return "rejected in review for this name"
        if self.evidence:
            return ""
        if is_branch(self.candidate.full_name):
            return "a branch (分公司…), not the company"
        if not self.shares_distinctive:
            return "shares nothing distinctive with the name"
        return "name differs beyond legal form, brackets and punctuation"

    def as_review(self) -> dict[str, object]:
        c = self.candidate
        return {
            "company_id": c.company_id, "full_name": c.full_name, "credit_code": c.credit_code,
            "match_type": c.match_type, "rank_score": c.rank_score, "score": self.score,
            "former_names": list(c.former_names), "evidence": self.evidence, "why_not": self.why_not,
        }  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    """accept (chosen carries evidence), needs_review, or not_found; kept: top candidates."""

    outcome: str
    reason: str
    chosen: Assessment | None = None
    kept: list[Assessment] = field(default_factory=list)


def assess(
    query: str, candidates: list[Candidate], rejected: frozenset[str] | set[str] = frozenset()
) -> list[Assessment]:
    """Every candidate with its evidence, best first (evidence, then similarity, then the service's rank)."""
    strength = {kind: len(EVIDENCE_KINDS) - i for i, kind in enumerate(EVIDENCE_KINDS)}
    result = [
        Assessment(
            candidate=c,
            evidence=None if c.company_id in rejected else evidence_for(query, c),
            score=similarity(query, c.full_name),
            shares_distinctive=shares_distinctive(query, [c.full_name, *c.former_names]),
            rejected=c.company_id in rejected,
        )
        for c in candidates
    ]
    order = {id(a): i for i, a in enumerate(result)}
    return sorted(
        result,
        key=lambda a: (not a.rejected, strength.get(a.evidence or "", 0), a.shares_distinctive, a.score,
                       a.candidate.rank_score, -order[id(a)]),
        reverse=True,
    )  # fmt: skip


def decide(query: str, candidates: list[Candidate], rejected: Collection[str] = frozenset()) -> Verdict:
    """Accept only a candidate with evidence, and only when every candidate with evidence is the
    same company; a name whose candidates share something distinctive waits for review; the rest
    is not found.  Candidates rejected in review for this name are never accepted."""
    assessed = assess(query, candidates, rejected)
    usable = [a for a in assessed if not a.rejected]
    with_evidence = [a for a in usable if a.evidence]
    companies = {a.candidate.company_id for a in with_evidence}
    if len(companies) == 1:
        return Verdict("accept", f"evidence: {with_evidence[0].evidence}", with_evidence[0], usable[:REVIEW_KEEP])
    if len(companies) > 1:
        return Verdict("needs_review", f"evidence points at {len(companies)} different companies", None,
                       usable[:REVIEW_KEEP])  # fmt: skip
    if not usable:
        return Verdict("not_found", "all candidates were rejected in review" if assessed else "no candidates")
    if any(a.shares_distinctive for a in usable):
        return Verdict("needs_review", "no candidate carries evidence", None, usable[:REVIEW_KEEP])
    return Verdict("not_found", "no candidate shares anything distinctive with the name", None, usable[:REVIEW_KEEP])
