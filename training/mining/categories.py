"""Rule-based category of a customer question over the nine ``Category`` values.

Each category has a keyword pattern and the first rule that matches wins, so the order of the
rules decides questions that mention several topics. It follows what the customer needs done,
not what they mention in passing (``PRECEDENCE``):

1. 发票 — invoice words are unambiguous, and invoice questions often mention the order, a return
   or a payment only as background ("退货了发票怎么办" is for whoever handles invoices).
2. 退款 — questions about money coming back ("退货后多久退款") belong to refunds even when the
   goods go back too; cancelling an order (取消订单) is a refund request.
3. 退换货 — sending goods back or exchanging them; beats logistics because a return also
   involves couriers ("退货快递什么时候来取件").
4. 售后维修 — warranty and repairs; beats logistics for the same reason ("返修没人来取件").
5. 物流配送 — shipping, delivery and addresses; beats payment because payment is often just the
   time reference of a shipping question ("付款后多久发货").
6. 账户支付 — payment methods, instalments, account and membership; beats price since a coupon
   that fails at checkout is a payment problem.
7. 价格优惠 — prices, coupons, promotions, gifts.
8. 售前咨询 — product facts and stock; the broadest words ("材质", "多大"), so tried last.
9. 其他 — nothing matched.

Two narrow rules run right after 发票, ahead of the words they would otherwise lose to: price
protection (保价/价保/差价, a 价格优惠 matter although it "refunds the difference") and changes of
the delivery address or phone (物流配送, although "换个地址" looks like an exchange).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

from training.models import Category

_RULES: list[tuple[Category, str]] = [
    (Category.INVOICE, r"发票|开票|票据|抬头|税号|增值税|专票|普票|电子票|报销凭证"),
    (Category.PRICE, r"保价|价保|价格保护|差价"),
    (
        Category.LOGISTICS,
        r"(改|换|修改|更改|变更|填错|写错).{0,4}(地址|收货人|收件人|电话|手机|号码)|"
        r"(地址|收货人|收件人|电话|手机号|号码).{0,4}(改|换|修改|更改|变更|填错|写错|错了)",
    ),
    (
        Category.REFUND,
        r"退款|退钱|退费|(钱|(?<!免)费|款项).{0,6}退|退(定金|押金|运费)|退.{0,2}到账|返还|"
        r"退回.{0,3}(钱|款|余额|账户|卡)|只退了|少退|退.{0,3}[0-9]+(元|块)|取消.{0,3}订单|订单.{0,3}取消|取消.{0,2}(下单|购买)|不想要了|拒收",
    ),
    (
        Category.RETURN,
        r"退货|换货|退换|无理由|调换|换(一|个|成|颜色|尺码|型号|新)|寄回|退回|退掉|"
        r"能退|可以退|想退|要退|怎么退|退(了|吗|么|嘛)|换(大|小).{0,2}(号|码)?",
    ),
    (
        Category.REPAIR,
        r"维修|保修|返修|质保|修理|修好|坏了|损坏|故障|报修|售后|不能用|用不了|不好用|没反应|不工作|"
        r"开不了机|质量问题|充不进|漏水|异响|死机|黑屏|是坏的|"
        r"不(亮|制热|制冷|加热|出雾|出水|出风|转|启动|通电|充电|显示|响|工作)了?|检测|换新|安装",
    ),
    (
        Category.LOGISTICS,
        r"发货|发出|发了|能发|发(吗|么|不发)|快递|物流|配送|送货|派送|送到|送达|送过来|送来|到货|收到|没到|还没到|"
        r"能到|几天到|多久到|到了吗|签收|地址|运费|包邮|自提|揽收|(?<!订)单号|运单|顺丰|中通|圆通|韵达|申通|邮政|"
        r"京东快递|催(一下|下|促|件)?|配送员|快递员|站点|在路上|加急|拦截|预约|取件|"
        r"(改|修改|更改|推迟|延期|延迟).{0,4}(时间|日期)",
    ),
    (
        Category.PAYMENT,
        r"支付|付款|付不了|扣款|扣钱|扣了|花呗|白条|分期|免息|信用卡|银行卡|储蓄卡|微信支付|支付宝|"
        r"余额|账户|账号|帐号|登录|登陆|密码|实名|绑定|会员|plus|京豆|积分|钱包|货到付款|到付|充值",
    ),
    (
        Category.PRICE,
        r"价格|价钱|多少钱|几块|便宜|优惠|券|折扣|打折|[0-9几一二三四五六七八九]折|满减|满.{1,5}减|"
        r"活动|降价|涨价|赠品|送什么|送的|赠送|贵|划算|秒杀|红包|返现|特价|原价|促销|团购|拼团|定金|尾款",
    ),
    (
        Category.PRESALE,
        r"有货|现货|缺货|库存|补货|材质|材料|尺寸|尺码|大小|规格|参数|型号|款式|颜色|区别|功能|功率|"
        r"容量|重量|多重|多大|多长|多高|多宽|多厚|续航|电池|噪音|声音|静音|防水|耐用|质量|正品|真品|"
        r"保质期|生产日期|有效期|产地|品牌|配件|适合|适用|合适|兼容|支持|能用|可以用|怎么用|使用|"
        r"推荐|效果|口味|味道|成分|配置|内存|版本|包装|送几个|标配|涂层|内胆|安全|环保|有毒|甲醛",
    ),
]

#: The main order of the categories (module docstring), also used to break ties between them.
PRECEDENCE: tuple[Category, ...] = (
    Category.INVOICE,
    Category.REFUND,
    Category.RETURN,
    Category.REPAIR,
    Category.LOGISTICS,
    Category.PAYMENT,
    Category.PRICE,
    Category.PRESALE,
    Category.OTHER,
)

_COMPILED = [(category, re.compile(pattern, re.IGNORECASE)) for category, pattern in _RULES]


def categorise(text: str) -> Category:
    """The category of one customer question, by keyword rules in precedence order."""
    normalised = unicodedata.normalize("NFKC", text)
    for category, pattern in _COMPILED:
        if pattern.search(normalised):
            return category
    return Category.OTHER


def majority_category(votes: Iterable[tuple[Category, int]]) -> Category:
    """The category with most votes (category, weight); 其他 only if nothing more specific.

    "其他" means that no rule fired, i.e. no evidence, so it does not outvote a category that
    has some. Ties go to the category earlier in ``PRECEDENCE``.
    """
    counts: Counter[Category] = Counter()
    for category, weight in votes:
        if category is not Category.OTHER:
            counts[category] += weight
    if not counts:
        return Category.OTHER
    return min(counts, key=lambda c: (-counts[c], PRECEDENCE.index(c)))
