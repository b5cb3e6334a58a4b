package kb

import "strings"

// termMap pairs the Japanese and English words of the kernel's failure
// vocabulary. A query gets the other language's words of every term it
// contains (ParseQuery), so a Japanese query reaches an article written
// only in English and an English one an article written only in Japanese;
// a Japanese report or a translated panic message finds the articles its
// English original would.
//
// Japanese has no spaces: a Japanese term is found anywhere in the
// query. An English term is found as whole words, in lower case.
var termMap = []struct{ ja, en string }{
	// Lockups, hangs, stalls.
	{"ソフトロックアップ", "soft lockup"},
	{"ソフトロック", "soft lockup"},
	{"ハードロックアップ", "hard lockup"},
	{"ハードロック", "hard lockup"},
	{"ロックアップ", "lockup"},
	{"ウォッチドッグ", "watchdog"},
	{"ウオッチドッグ", "watchdog"},
	{"ウォッチドック", "watchdog"},
	{"ハングタスク", "hung task"},
	{"ハングアップ", "hung"},
	{"ハング", "hang"},
	{"フリーズ", "hang"},
	{"固まる", "hang"},
	{"応答なし", "hung"},
	{"ストール", "stall"},
	{"デッドロック", "deadlock"},
	{"スピンロック", "spinlock"},
	{"ロック", "lock"},
	{"ブロック", "blocked"},
	{"スケジューリング", "scheduling"},
	{"アトミック", "atomic"},
	{"割り込み", "interrupt"},
	{"タイムアウト", "timeout"},
	// Panics and oopses.
	{"カーネルパニック", "kernel panic"},
	{"パニック", "panic"},
	{"同期していません", "not syncing"},
	{"クラッシュ", "crash"},
	{"カーネルバグ", "kernel bug"},
	{"アサーション", "assertion"},
	{"警告", "warning"},
	{"ヌルポインタ参照", "null pointer dereference"},
	{"ヌルポインター参照", "null pointer dereference"},
	{"NULLポインタ参照", "null pointer dereference"},
	{"ヌルポインタ", "null pointer"},
	{"ヌルポインター", "null pointer"},
	{"NULLポインタ", "null pointer"},
	{"ヌルポ", "null pointer"},
	{"ポインタ参照", "pointer dereference"},
	{"ページフォールト", "page fault"},
	{"ページフォルト", "page fault"},
	{"一般保護違反", "general protection fault"},
	{"一般保護例外", "general protection fault"},
	{"ゼロ除算", "divide error"},
	{"ゼロ除算", "division by zero"},
	{"不正な命令", "invalid opcode"},
	{"無効なオペコード", "invalid opcode"},
	{"ダブルフォルト", "double fault"},
	{"スタックオーバーフロー", "stack overflow"},
	{"スタックオーバフロー", "stack overflow"},
	{"スタックガードページ", "stack guard page"},
	{"スタック保護", "stack protector"},
	{"スタック破壊", "stack corrupted"},
	{"スタック", "stack"},
	{"init を終了", "attempted to kill init"},
	{"initを終了", "attempted to kill init"},
	{"終了コード", "exitcode"},
	// Memory.
	{"メモリ不足", "out of memory"},
	{"メモリー不足", "out of memory"},
	{"メモリ不足", "oom"},
	{"メモリリーク", "memory leak"},
	{"メモリーリーク", "memory leak"},
	{"メモリ破壊", "memory corruption"},
	{"メモリ破損", "memory corruption"},
	{"リスト破壊", "list corruption"},
	{"リスト破損", "list corruption"},
	{"解放後使用", "use-after-free"},
	{"解放済みメモリ", "use-after-free"},
	{"二重解放", "double free"},
	{"範囲外アクセス", "out-of-bounds"},
	{"境界外", "out-of-bounds"},
	{"ページ割り当て失敗", "page allocation failure"},
	{"メモリ割り当て", "allocation"},
	{"未初期化", "uninit"},
	{"未定義動作", "undefined behavior"},
	{"データ競合", "data race"},
	{"メモリ", "memory"},
	// Storage and file systems.
	{"読み取り専用", "read-only"},
	{"読み込み専用", "read-only"},
	{"リードオンリー", "read-only"},
	{"ファイルシステム", "filesystem"},
	{"ルートファイルシステム", "root fs"},
	{"マウント", "mount"},
	{"ディスク", "disk"},
	{"入出力エラー", "I/O error"},
	{"I/Oエラー", "I/O error"},
	{"IOエラー", "I/O error"},
	{"シャットダウン", "shutting down"},
	{"ジャーナル", "journal"},
	// Hardware, drivers, modules.
	{"ハードウェアエラー", "hardware error"},
	{"ハードウェア障害", "hardware error"},
	{"マシンチェック", "machine check"},
	{"ドライバ", "driver"},
	{"ドライバー", "driver"},
	{"グラフィック", "gpu"},
	{"ネットワークデバイス", "netdevice"},
	{"ネットワーク", "network"},
	{"カーネルモジュール", "module"},
	{"モジュール", "module"},
	{"署名", "signature"},
	{"汚染", "tainted"},
	{"テイント", "tainted"},
	{"仮想マシン", "virtual machine"},
	{"再起動", "reboot"},
	{"起動", "boot"},
}

// translateTerms returns the English words of the Japanese terms in q and
// the Japanese words of its English terms, each once, in termMap's order.
func translateTerms(q string) (toEN, toJA []string) {
	lower := " " + strings.Join(strings.FieldsFunc(strings.ToLower(q), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '/' || r == '_')
	}), " ") + " "
	seenEN, seenJA := map[string]bool{}, map[string]bool{}
	for _, p := range termMap {
		if !seenEN[p.en] && strings.Contains(q, p.ja) {
			seenEN[p.en] = true
			toEN = append(toEN, p.en)
		}
		if !seenJA[p.ja] && strings.Contains(lower, " "+strings.ToLower(p.en)+" ") {
			seenJA[p.ja] = true
			toJA = append(toJA, p.ja)
		}
	}
	return toEN, toJA
}
